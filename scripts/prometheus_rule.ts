/**
 * Writes deploy/kubernetes/monitoring/prometheus-rule.yaml, a Prometheus Operator `PrometheusRule`
 * holding the groups of deploy/prometheus/alerts.yml, the one place the rules are edited:
 * `deno run -A scripts/prometheus_rule.ts` after changing them (tests/kubernetes_monitoring_test.ts
 * fails while the two differ).
 */

import { parse, stringify } from "yaml";

const ROOT = new URL("../", import.meta.url);
/** The rule file Prometheus loads, and its tests' (`promtool test rules`). */
export const ALERTS_FILE = new URL("deploy/prometheus/alerts.yml", ROOT);
/** The same rules as a `PrometheusRule` object. */
export const PROMETHEUS_RULE_FILE = new URL(
  "deploy/kubernetes/monitoring/prometheus-rule.yaml",
  ROOT,
);

const HEADER = `# ppr-worker's alert rules for the Prometheus Operator: the groups of
# deploy/prometheus/alerts.yml, written by scripts/prometheus_rule.ts (edit alerts.yml, then run
# \`deno run -A scripts/prometheus_rule.ts\`). Each rule's meaning and what to do:
# docs/health-and-metrics.md#alerts. A Prometheus of the Operator loads it when its ruleSelector
# matches these labels (kube-prometheus-stack's: \`release: <its release name>\`): docs/kubernetes.md.
`;

/** The `PrometheusRule` manifest, as text, for the rule file's text `alerts`. */
export function prometheusRuleText(alerts: string): string {
  const { groups } = parse(alerts) as { groups: unknown[] };
  const rule = {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: { name: "ppr-worker", labels: { "app.kubernetes.io/name": "ppr-worker" } },
    spec: { groups },
  };
  return HEADER + stringify(rule, { lineWidth: 100 });
}

if (import.meta.main) {
  const text = prometheusRuleText(await Deno.readTextFile(ALERTS_FILE));
  await Deno.writeTextFile(PROMETHEUS_RULE_FILE, text);
  console.log(`wrote ${PROMETHEUS_RULE_FILE.pathname}`);
}
