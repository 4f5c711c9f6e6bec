/**
 * deploy/kubernetes/monitoring/ read as data, without a cluster: the PodMonitor and the
 * PrometheusRule against the Prometheus Operator's schemas, the PodMonitor against the Deployment
 * and deploy/prometheus/prometheus.yml, the PrometheusRule against deploy/prometheus/alerts.yml.
 * Each rule is also shown to fail on a broken copy.
 */

import { strict as assert } from "node:assert";
import { parse } from "yaml";
import {
  type K8sObject,
  type Manifest,
  readManifests,
  schemaProblems,
} from "../testing/kubernetes.ts";
import {
  ALERTS_FILE,
  PROMETHEUS_RULE_FILE,
  prometheusRuleText,
} from "../scripts/prometheus_rule.ts";

const MONITORING_DIR = new URL("../deploy/kubernetes/monitoring/", import.meta.url);
const PROMETHEUS_CONFIG = new URL("../deploy/prometheus/prometheus.yml", import.meta.url);

const monitoring = await readManifests(MONITORING_DIR);
const main = await readManifests();
const kindOf = (manifests: Manifest[], kind: string) =>
  manifests.find(({ object }) => object.kind === kind)!.object;

/**
 * What does not hold between the PodMonitor and the Deployment it scrapes and the scrape settings
 * of deploy/prometheus/prometheus.yml: `[]` when all holds.
 */
function podMonitorProblems(
  podMonitor: K8sObject,
  deployment: K8sObject,
  scrapeInterval: string,
): string[] {
  const problems: string[] = [];
  const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
  for (const [name, value] of Object.entries(podMonitor.spec.selector.matchLabels ?? {})) {
    if (podLabels[name] !== value) problems.push(`selects ${name}=${value}, not on the pods`);
  }
  const ports = deployment.spec.template.spec.containers.flatMap((container: K8sObject) =>
    (container.ports ?? []).map((port: K8sObject) => port.name)
  );
  const endpoints = podMonitor.spec.podMetricsEndpoints as K8sObject[];
  if (endpoints.length !== 1) problems.push(`${endpoints.length} endpoints, not 1`);
  for (const endpoint of endpoints) {
    if (!ports.includes(endpoint.port)) problems.push(`port ${endpoint.port} is no pod port`);
    const annotated = deployment.spec.template.metadata.annotations["prometheus.io/path"];
    if (endpoint.path !== annotated) problems.push(`path ${endpoint.path}, not ${annotated}`);
    if (endpoint.interval !== scrapeInterval) {
      problems.push(`interval ${endpoint.interval}, not prometheus.yml's ${scrapeInterval}`);
    }
  }
  return problems;
}

const scrapeInterval = parse(await Deno.readTextFile(PROMETHEUS_CONFIG)).global.scrape_interval;

Deno.test("deploy/kubernetes/monitoring/ holds a PodMonitor, a PrometheusRule and a kustomization listing both", () => {
  assert.deepEqual(
    monitoring.map(({ file, object }) => `${file} ${object.kind}`),
    [
      "kustomization.yaml Kustomization",
      "pod-monitor.yaml PodMonitor",
      "prometheus-rule.yaml PrometheusRule",
    ],
  );
  assert.deepEqual(kindOf(monitoring, "Kustomization").resources, [
    "pod-monitor.yaml",
    "prometheus-rule.yaml",
  ]);
});

Deno.test("the PodMonitor and the PrometheusRule are valid against the Prometheus Operator's schemas, and a broken copy is not", () => {
  assert.deepEqual(schemaProblems(monitoring), []);
  const copy = structuredClone(monitoring);
  kindOf(copy, "PodMonitor").spec.podMetricsEndpoints[0].port = 8080;
  delete kindOf(copy, "PrometheusRule").spec.groups[0].rules[0].expr;
  const problems = schemaProblems(copy).join("\n");
  assert.match(problems, /pod-monitor\.yaml.*port must be string/);
  assert.match(problems, /prometheus-rule\.yaml.*must have required property expr/);
});

Deno.test("the PrometheusRule holds exactly deploy/prometheus/alerts.yml's groups, as scripts/prometheus_rule.ts writes them", async () => {
  const alerts = await Deno.readTextFile(ALERTS_FILE);
  const rule = kindOf(monitoring, "PrometheusRule");
  assert.deepEqual(rule.spec.groups, parse(alerts).groups);
  assert.equal(
    await Deno.readTextFile(PROMETHEUS_RULE_FILE),
    prometheusRuleText(alerts),
    "out of date: run `deno run -A scripts/prometheus_rule.ts`",
  );
  const changed = alerts.replace("for: 15m", "for: 20m");
  assert.notDeepEqual(rule.spec.groups, parse(changed).groups);
});

Deno.test("the PodMonitor scrapes the Deployment's pods on their port named health, at the annotated path and prometheus.yml's interval; a broken copy does not", () => {
  const podMonitor = kindOf(monitoring, "PodMonitor");
  const deployment = kindOf(main, "Deployment");
  assert.deepEqual(podMonitorProblems(podMonitor, deployment, scrapeInterval), []);
  const copy = structuredClone(podMonitor);
  copy.spec.selector.matchLabels["app.kubernetes.io/name"] = "ppr";
  copy.spec.podMetricsEndpoints[0].port = "metrics";
  copy.spec.podMetricsEndpoints[0].path = "/health";
  copy.spec.podMetricsEndpoints[0].interval = "1m";
  assert.deepEqual(podMonitorProblems(copy, deployment, scrapeInterval), [
    "selects app.kubernetes.io/name=ppr, not on the pods",
    "port metrics is no pod port",
    "path /health, not /metrics",
    "interval 1m, not prometheus.yml's 15s",
  ]);
});
