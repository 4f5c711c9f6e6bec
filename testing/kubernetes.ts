/** The Kubernetes manifests of deploy/kubernetes/ as data: each object's schema, and the rules by which they must agree with ppr-worker's own settings. */

import { parseAllDocuments } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, PersistentVolumeClaim, Secret } from "kubernetes-models/v1";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import {
  PodMonitor,
  PrometheusRule,
} from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import { type Config, type ConfigSchema, llmQueuesOf, parseConfig } from "../config/config.ts";
import { VERSION } from "../config/version.ts";
import { createHandler } from "../health/server.ts";
import type { HealthInputs } from "../health/status.ts";
import { createMetrics } from "../health/metrics.ts";
import { claudeCliEnv, CLI_FIXED_ENV } from "../providers/claude_cli/env.ts";
import { CONFIG_SCHEMA, defaultProviderOf, PROVIDER_NAMES } from "../providers/registry.ts";
import { JOB_STATES } from "../state/queues.ts";
import { llmBudget } from "../supervisor/llm_budget.ts";
import { parseExposition, type Sample } from "./metrics.ts";

/** A manifest's object as YAML gives it: read field by field, each checked where it is used. */
// deno-lint-ignore no-explicit-any
export type K8sObject = Record<string, any>;

/** One object of one manifest file. */
export interface Manifest {
  /** The file's name in the folder, e.g. `deployment.yaml`. */
  file: string;
  object: K8sObject;
}

/** The folder of the manifests. */
export const MANIFESTS_DIR = new URL("../deploy/kubernetes/", import.meta.url);

/** Kustomize's list of the folder's resources: no Kubernetes object, so no schema to validate. */
const KUSTOMIZATION = "kustomize.config.k8s.io/v1beta1/Kustomization";

/** The model class that validates each kind, by `apiVersion/kind`. */
const MODELS: Readonly<Record<string, (data: K8sObject) => { validate(): void }>> = {
  "apps/v1/Deployment": (data) => new Deployment(data as never),
  "policy/v1/PodDisruptionBudget": (data) => new PodDisruptionBudget(data as never),
  "v1/ConfigMap": (data) => new ConfigMap(data as never),
  "v1/Secret": (data) => new Secret(data as never),
  "v1/PersistentVolumeClaim": (data) => new PersistentVolumeClaim(data as never),
  "keda.sh/v1alpha1/ScaledObject": (data) => new ScaledObject(data as never),
  "monitoring.coreos.com/v1/PodMonitor": (data) => new PodMonitor(data as never),
  "monitoring.coreos.com/v1/PrometheusRule": (data) => new PrometheusRule(data as never),
};

/** Every object of every `.yaml` file of `dir`, in file-name order. Throws on a YAML error. */
export async function readManifests(dir: URL = MANIFESTS_DIR): Promise<Manifest[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".yaml")) files.push(entry.name);
  }
  const manifests: Manifest[] = [];
  for (const file of files.sort()) {
    for (const document of parseAllDocuments(await Deno.readTextFile(new URL(file, dir)))) {
      if (document.errors.length > 0) {
        throw new Error(`${file}: ${document.errors.map((error) => error.message).join("; ")}`);
      }
      const object = document.toJS();
      if (object !== null) manifests.push({ file, object });
    }
  }
  return manifests;
}

const typeOf = (object: K8sObject) => `${object.apiVersion}/${object.kind}`;
const where = ({ file, object }: Manifest) => `${file} (${object.kind} ${object.metadata?.name})`;

/**
 * What the Kubernetes, KEDA and Prometheus Operator schemas say of each object: `[]` when all are valid. A kind
 * without a model is a problem too. The schemas do not forbid unknown fields (neither does the
 * OpenAPI they come from), so a misspelt field passes here: {@link agreementProblems} reads
 * every field that matters by its name.
 */
export function schemaProblems(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  for (const manifest of manifests) {
    const type = typeOf(manifest.object);
    if (type === KUSTOMIZATION) continue;
    const model = MODELS[type];
    if (!model) {
      problems.push(`${where(manifest)}: no schema for ${type} (known: ${Object.keys(MODELS)})`);
      continue;
    }
    try {
      model(manifest.object).validate();
    } catch (error) {
      problems.push(`${where(manifest)}: ${error instanceof Error ? error.message : error}`);
    }
  }
  return problems;
}

/** What the manifests must agree with, read from ppr-worker's own code and image. */
export interface PprFacts {
  /** Every setting, its variable, default and rule (`CONFIG_SCHEMA`). */
  schema: ConfigSchema;
  /** Whether ppr-worker reads `name` outside the settings table (the Claude CLI's variables). */
  readsOutsideSettings(name: string): boolean;
  /** The samples of a `/metrics` scrape of a pool that serves `llm`. */
  metrics: Sample[];
  /** Whether the health server answers `path` (anything but 404). */
  serves(path: string): Promise<boolean>;
  /** The image's `ENV` and `USER` (the Dockerfile). */
  image: { env: Record<string, string>; uid: number };
  version: string;
  /** How much longer than `DRAIN_TIMEOUT` the supervisor's stop may take (docs/reliability.md). */
  stopOverheadMs: number;
}

/** The Dockerfile's final `ENV` variables and `USER` id. */
export function imageOf(dockerfile: string): PprFacts["image"] {
  const lines = dockerfile.replaceAll(/\\\n/g, " ").split("\n");
  const env: Record<string, string> = {};
  let uid = 0;
  for (const line of lines) {
    const instruction = /^(ENV|USER|FROM)\s+(.*)$/.exec(line.trim());
    if (!instruction) continue;
    const [, keyword, rest] = instruction;
    if (keyword === "FROM") {
      for (const name of Object.keys(env)) delete env[name];
      uid = 0;
    } else if (keyword === "USER") {
      uid = Number(rest.split(":")[0]);
    } else {
      for (const pair of rest.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S*)/g)) env[pair[1]] = pair[2];
    }
  }
  return { env, uid };
}

/** A snapshot with one LLM queue and every provider's pause, for a scrape of every metric. */
function sampleInputs(): HealthInputs {
  const now = Date.now();
  const counts = Object.fromEntries(JOB_STATES.map((state) => [state, 1])) as Record<
    (typeof JOB_STATES)[number],
    number
  >;
  return {
    pool: {
      size: 1,
      slots: [{
        name: "worker-pod-1",
        index: 1,
        state: "running",
        pid: 100,
        restarts: 0,
        uptimeS: 1,
        activeJobs: 0,
        processed: 0,
        failed: 0,
        rssBytes: 0,
      }],
      draining: false,
      intensityExceeded: false,
      restartsInPeriod: 0,
    },
    redis: { connected: true, latencyMs: 0.3, downSince: undefined },
    llm: { state: "ok", retryInSeconds: 0, claudeAuthenticated: null },
    queues: ["llm"],
    provider: "claude",
    redisGraceMs: 15_000,
    startedAt: now,
    version: VERSION,
    queueStats: {
      queues: [{ name: "llm", paused: false, counts }],
      providers: PROVIDER_NAMES.map((provider) => ({
        provider,
        state: "ok" as const,
        reason: null,
        since: null,
        resumes_at: null,
        retry_in_s: 0,
      })),
      budgets: [],
      readAt: now,
    },
  };
}

/** ppr-worker's facts as this build has them. */
export async function pprFacts(): Promise<PprFacts> {
  const inputs = sampleInputs();
  const handler = createHandler(() => inputs);
  const dockerfile = await Deno.readTextFile(new URL("../Dockerfile", import.meta.url));
  return {
    schema: CONFIG_SCHEMA,
    readsOutsideSettings: (name) =>
      !Object.hasOwn(CLI_FIXED_ENV, name) && Object.hasOwn(claudeCliEnv({ [name]: "x" }), name),
    metrics: parseExposition(await createMetrics(() => inputs).text()),
    serves: async (path) => (await handler(new Request(`http://pod${path}`))).status !== 404,
    image: imageOf(dockerfile),
    version: VERSION,
    stopOverheadMs: 5000,
  };
}

/** Bytes of a Kubernetes quantity such as `3Gi` or `512M`; `undefined` when it is none. */
export function quantityBytes(quantity: unknown): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(quantity ?? ""));
  if (!match) return undefined;
  const units: Record<string, number> = {
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  };
  return Number(match[1]) * (match[2] ? units[match[2]] : 1);
}

/** The values of a PromQL label matcher: `a` for `="a"`, `a`, `b` for `=~"a|b"`. */
function matcherValues(operator: string, value: string): string[] {
  return operator === "=~" ? value.split("|") : [value];
}

/** The metric selectors of a PromQL query: name and `label op "value"` matchers. */
export function selectorsOf(query: string) {
  const selectors: { metric: string; matchers: { label: string; op: string; value: string }[] }[] =
    [];
  for (
    const [, metric, body] of query.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{([^}]*)\})?/g)
  ) {
    if (!metric.startsWith("ppr_")) continue;
    const matchers = [...(body ?? "").matchAll(/([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)]
      .map(([, label, op, value]) => ({ label, op, value }));
    selectors.push({ metric, matchers });
  }
  return selectors;
}

/** Labels Prometheus itself adds to every scraped series. */
const TARGET_LABELS = new Set(["instance", "job"]);

/** Whether `labels` has every pair of `selector`'s `matchLabels`. */
function selects(selector: K8sObject | undefined, labels: K8sObject | undefined): boolean {
  const wanted = Object.entries(selector?.matchLabels ?? {});
  return wanted.length > 0 && wanted.every(([key, value]) => labels?.[key] === value);
}

/** The manifests of one kind. */
function byKind(manifests: readonly Manifest[], kind: string): Manifest[] {
  return manifests.filter(({ object }) => object.kind === kind);
}

/** The manifest of one kind with one name. */
function named(manifests: readonly Manifest[], kind: string, name: unknown): Manifest | undefined {
  return byKind(manifests, kind).find(({ object }) => object.metadata?.name === name);
}

/** ppr-worker's pod as the Deployment describes it. */
interface PodView {
  manifest: Manifest;
  /** `spec.template.spec`. */
  spec: K8sObject;
  /** The pod's one container: ppr-worker's. */
  container: K8sObject;
  /** The environment Kubernetes gives it: the image's, then envFrom in order, then env. */
  env: Record<string, string>;
  /** Each variable the manifests set, with the file that sets it. */
  set: { name: string; file: string }[];
  /** A problem's prefix: the Deployment's file and the field. */
  at(field: string): string;
}

/** The Deployment's pod and its environment, or the problems that leave none to check. */
function podOf(manifests: readonly Manifest[], facts: PprFacts): PodView | string[] {
  const deployments = byKind(manifests, "Deployment");
  if (deployments.length !== 1) {
    return [`expected one Deployment among the manifests, found ${deployments.length}`];
  }
  const manifest = deployments[0];
  const at = (field: string) => `${manifest.file}: ${field}`;
  const container = manifest.object.spec?.template?.spec?.containers?.[0] ?? {};
  const env: Record<string, string> = { ...facts.image.env };
  const set: PodView["set"] = [];
  const problems: string[] = [];
  for (const source of container.envFrom ?? []) {
    const kind = source.configMapRef ? "ConfigMap" : "Secret";
    const name = (source.configMapRef ?? source.secretRef)?.name;
    const found = named(manifests, kind, name);
    if (!found) {
      problems.push(at(`envFrom names ${kind} ${name}, which no manifest defines`));
      continue;
    }
    for (const [key, value] of Object.entries(dataOf(found.object))) {
      env[key] = value;
      set.push({ name: key, file: found.file });
    }
  }
  for (const variable of container.env ?? []) {
    env[variable.name] = String(variable.value ?? "");
    set.push({ name: variable.name, file: manifest.file });
  }
  if (problems.length > 0) return problems;
  return { manifest, spec: manifest.object.spec?.template?.spec ?? {}, container, env, set, at };
}

/** A ConfigMap's or Secret's values as text (a Secret's `data` decoded). */
function dataOf(object: K8sObject): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(object.data ?? {})) {
    values[key] = object.kind === "Secret" ? atob(String(value)) : String(value);
  }
  for (const [key, value] of Object.entries(object.stringData ?? {})) values[key] = String(value);
  return values;
}

/** Variables ppr-worker does not read, and secrets in a ConfigMap. */
function variableProblems(manifests: readonly Manifest[], pod: PodView, facts: PprFacts): string[] {
  const problems: string[] = [];
  const settings = Object.values(facts.schema.settings);
  const read = new Set(settings.map((setting) => setting.env));
  for (const { name, file } of pod.set) {
    if (!read.has(name) && !facts.readsOutsideSettings(name)) {
      problems.push(
        `${file}: ${name} is no variable ppr-worker reads (no setting of CONFIG_SCHEMA, nor ` +
          "one the Claude CLI is given)",
      );
    }
  }
  const secrets = new Set([
    ...settings.filter((setting) => setting.secret).map((setting) => setting.env),
    "CLAUDE_CODE_OAUTH_TOKEN",
  ]);
  for (const { object, file } of byKind(manifests, "ConfigMap")) {
    for (const key of Object.keys(object.data ?? {})) {
      if (secrets.has(key)) problems.push(`${file}: ${key} is a secret: put it in the Secret`);
    }
  }
  return problems;
}

/** The port, the probes and the scrape annotations against HEALTH_PORT and the health server. */
async function healthProblems(pod: PodView, config: Config, facts: PprFacts): Promise<string[]> {
  const { container, at } = pod;
  const port = config.healthPort;
  const problems: string[] = [];
  if (!container.ports?.some((each: K8sObject) => each.containerPort === port)) {
    problems.push(
      at(`no container port is HEALTH_PORT (${port}); ports: ${JSON.stringify(container.ports)}`),
    );
  }
  const portNumber = (value: unknown) =>
    typeof value === "number"
      ? value
      : container.ports?.find((each: K8sObject) => each.name === value)?.containerPort;
  for (const [probe, path] of [["livenessProbe", "/health"], ["readinessProbe", "/ready"]]) {
    const get = container[probe]?.httpGet;
    if (get?.path !== path) {
      problems.push(at(`${probe} must GET ${path}, not ${get?.path}`));
    } else if (!(await facts.serves(path))) {
      problems.push(at(`${probe}: the health server does not serve ${path}`));
    }
    if (get && portNumber(get.port) !== port) {
      problems.push(at(`${probe}'s port ${get.port} is not HEALTH_PORT (${port})`));
    }
  }
  const annotations = pod.manifest.object.spec?.template?.metadata?.annotations ?? {};
  if (annotations["prometheus.io/scrape"] !== "true") {
    problems.push(at(`the pod has no prometheus.io/scrape: "true" annotation`));
  }
  if (Number(annotations["prometheus.io/port"]) !== port) {
    problems.push(
      at(`prometheus.io/port ${annotations["prometheus.io/port"]} is not HEALTH_PORT (${port})`),
    );
  }
  const metricsPath = annotations["prometheus.io/path"] ?? "/metrics";
  if (!(await facts.serves(metricsPath))) {
    problems.push(at(`prometheus.io/path: the health server does not serve ${metricsPath}`));
  }
  return problems;
}

/** The grace period against the drain, and the pod-level settings a stop or a start depends on. */
function podProblems(pod: PodView, config: Config, facts: PprFacts): string[] {
  const { spec, at } = pod;
  const problems: string[] = [];
  const graceMs = Number(spec.terminationGracePeriodSeconds ?? 30) * 1000;
  if (!(graceMs > config.drainTimeoutMs + facts.stopOverheadMs)) {
    problems.push(
      at(
        `terminationGracePeriodSeconds ${graceMs / 1000} must exceed DRAIN_TIMEOUT ` +
          `(${config.drainTimeoutMs / 1000} s) + ${facts.stopOverheadMs / 1000} s`,
      ),
    );
  }
  if (spec.enableServiceLinks !== false) {
    problems.push(at("enableServiceLinks must be false (a Service named health sets HEALTH_PORT)"));
  }
  const object = pod.manifest.object;
  if (!selects(object.spec?.selector, object.spec?.template?.metadata?.labels)) {
    problems.push(at("spec.selector does not select its pods"));
  }
  const image = String(pod.container.image ?? "");
  if (!image.endsWith(`:${facts.version}`)) {
    problems.push(at(`image ${image} is not tagged with ppr-worker's version ${facts.version}`));
  }
  return problems;
}

/** Non-root as the image's user, a read-only root, and the folders that must be written. */
function securityProblems(
  manifests: readonly Manifest[],
  pod: PodView,
  config: Config,
  facts: PprFacts,
): string[] {
  const { spec, container, env, at } = pod;
  const problems: string[] = [];
  const podSecurity = spec.securityContext ?? {};
  const security = container.securityContext ?? {};
  if (podSecurity.runAsNonRoot !== true && security.runAsNonRoot !== true) {
    problems.push(at("securityContext.runAsNonRoot must be true"));
  }
  const uid = security.runAsUser ?? podSecurity.runAsUser;
  if (uid !== facts.image.uid) {
    problems.push(at(`runAsUser ${uid} is not the image's USER (${facts.image.uid})`));
  }
  if (security.readOnlyRootFilesystem !== true) {
    problems.push(at("readOnlyRootFilesystem must be true"));
  }
  if (security.allowPrivilegeEscalation !== false) {
    problems.push(at("allowPrivilegeEscalation must be false"));
  }
  const volumeAt = (path: string) => {
    const mount = container.volumeMounts?.find((each: K8sObject) => each.mountPath === path);
    return mount && spec.volumes?.find((each: K8sObject) => each.name === mount.name);
  };
  const tmpDir = env.TMPDIR ?? "/tmp";
  const tmp = volumeAt(tmpDir);
  if (!tmp?.emptyDir) problems.push(at(`${tmpDir} must be an emptyDir volume`));
  else if (tmp.emptyDir.medium === "Memory") {
    problems.push(at(`${tmpDir} must not be a tmpfs: it would count against the memory limit`));
  }
  if (defaultProviderOf(config).callProcess?.(config)) {
    // The Claude CLI writes its login and state to CLAUDE_CONFIG_DIR.
    const configDir = env.CLAUDE_CONFIG_DIR ?? `${env.HOME}/.claude`;
    const claimName = volumeAt(configDir)?.persistentVolumeClaim?.claimName;
    const claim = claimName && named(manifests, "PersistentVolumeClaim", claimName);
    if (!claim) {
      problems.push(
        at(
          `the Claude CLI's login folder ${configDir} (CLAUDE_CONFIG_DIR) must be a ` +
            "PersistentVolumeClaim of the manifests",
        ),
      );
    } else if (!claim.object.spec?.accessModes?.includes("ReadWriteMany")) {
      problems.push(`${claim.file}: the login is shared by pods on many nodes: ReadWriteMany`);
    }
  }
  return problems;
}

/**
 * The jobs one pod runs at once: its LLM queues' slots within `LLM_MAX_IN_FLIGHT` (set, or its
 * default from the memory limit, as the supervisor computes it), plus its standard queues'
 * slots; with the problems of the memory limit.
 */
function capacityOf(pod: PodView, config: Config) {
  const problems: string[] = [];
  const memoryBytes = quantityBytes(pod.container.resources?.limits?.memory);
  if (memoryBytes === undefined) problems.push(pod.at("resources.limits.memory must be set"));
  const llmQueues = llmQueuesOf(config).length;
  const budget = llmBudget({
    memoryBytes,
    workerCount: config.workerCount,
    concurrency: config.concurrency,
    llmQueues,
    callProcess: defaultProviderOf(config).callProcess?.(config),
    configured: config.llmMaxInFlight,
  });
  if (memoryBytes !== undefined && budget.warning) {
    problems.push(pod.at(`resources.limits.memory: ${budget.warning}`));
  }
  const slotsPerQueue = config.workerCount * config.concurrency;
  const jobs = (budget.limit ?? slotsPerQueue * llmQueues) +
    slotsPerQueue * (config.queues.length - llmQueues);
  return { jobs, explanation: budget.explanation, problems };
}

/** The disruption budget and the ScaledObject against the Deployment, its capacity and /metrics. */
function scalingProblems(
  manifests: readonly Manifest[],
  pod: PodView,
  config: Config,
  capacity: { jobs: number; explanation: string },
  facts: PprFacts,
): string[] {
  const problems: string[] = [];
  const deployment = pod.manifest.object;
  const podLabels = deployment.spec?.template?.metadata?.labels;
  for (const { file, object } of byKind(manifests, "PodDisruptionBudget")) {
    if (!selects(object.spec?.selector, podLabels)) {
      problems.push(`${file}: spec.selector does not select the Deployment's pods`);
    }
  }
  const scaledObjects = byKind(manifests, "ScaledObject");
  if (scaledObjects.length === 0) problems.push("no ScaledObject among the manifests");
  else if (deployment.spec?.replicas !== undefined) {
    problems.push(pod.at("spec.replicas is set: every apply would undo the ScaledObject's count"));
  }
  for (const { file, object } of scaledObjects) {
    const at = (field: string) => `${file}: ${field}`;
    const target = object.spec?.scaleTargetRef ?? {};
    if (
      (target.kind ?? "Deployment") !== "Deployment" || target.name !== deployment.metadata?.name
    ) {
      problems.push(at(`scaleTargetRef ${JSON.stringify(target)} is not the Deployment`));
    }
    if (!(object.spec?.minReplicaCount >= 1)) {
      problems.push(at("minReplicaCount must be at least 1: the metric comes from the pods"));
    }
    const triggers: K8sObject[] = (object.spec?.triggers ?? [])
      .filter((each: K8sObject) => each.type === "prometheus");
    if (triggers.length !== 1) {
      problems.push(at(`expected one prometheus trigger, found ${triggers.length}`));
      continue;
    }
    const metadata = triggers[0].metadata ?? {};
    if (metadata.ignoreNullValues !== "false") {
      problems.push(at(`ignoreNullValues must be "false": no series is a broken scrape, not 0`));
    }
    if (Number(metadata.threshold) !== capacity.jobs) {
      problems.push(
        at(
          `threshold ${metadata.threshold} is not the jobs one pod runs at once: ` +
            `${capacity.jobs} (${capacity.explanation})`,
        ),
      );
    }
    problems.push(...queryProblems(String(metadata.query ?? ""), config, facts.metrics, at));
  }
  return problems;
}

/** A Secret of the manifests with a value that is neither empty nor a CHANGE-ME placeholder. */
function placeholderProblems(manifests: readonly Manifest[]): string[] {
  return byKind(manifests, "Secret").flatMap(({ file, object }) =>
    Object.entries(dataOf(object))
      .filter(([, value]) => value !== "" && !value.includes("CHANGE-ME"))
      .map(([key]) => `${file}: ${key} must be empty or a placeholder with CHANGE-ME`)
  );
}

/** The kustomization lists every manifest but the examples, and nothing else. */
function kustomizationProblems(manifests: readonly Manifest[]): string[] {
  const kustomization = manifests.find(({ object }) => typeOf(object) === KUSTOMIZATION);
  if (!kustomization) return [];
  const { file: own } = kustomization;
  const listed = new Set<string>(kustomization.object.resources ?? []);
  const files = new Set(manifests.map(({ file }) => file));
  files.delete(own);
  const problems: string[] = [];
  for (const file of files) {
    const example = file.endsWith(".example.yaml");
    if (example && listed.has(file)) {
      problems.push(`${own}: lists ${file}, an example with placeholders`);
    }
    if (!example && !listed.has(file)) problems.push(`${own}: misses ${file}`);
  }
  for (const file of listed) {
    if (!files.has(file)) problems.push(`${own}: lists ${file}, which is no manifest`);
  }
  return problems;
}

/**
 * Every way the manifests disagree with ppr-worker: the variables it reads and its secrets,
 * its configuration as the pod's environment makes it, the health port, probes and scrape
 * annotations, the grace period against the drain, the security settings and the folders it
 * writes, the memory limit and the jobs a pod runs, the disruption budget, the ScaledObject and
 * its query, the Secret's placeholders and the kustomization. Each problem names the file, the
 * field and what was expected; `[]` when they agree.
 */
export async function agreementProblems(
  manifests: readonly Manifest[],
  facts: PprFacts,
): Promise<string[]> {
  const problems = [...placeholderProblems(manifests), ...kustomizationProblems(manifests)];
  const pod = podOf(manifests, facts);
  if (Array.isArray(pod)) return [...pod, ...problems];
  problems.push(...variableProblems(manifests, pod, facts));
  const parsed = parseConfig({}, pod.env, facts.schema);
  if (!parsed.ok) {
    return [
      ...problems,
      `the pod's environment is not a valid configuration: ${parsed.errors.join("; ")}`,
    ];
  }
  const config = parsed.config;
  const capacity = capacityOf(pod, config);
  return [
    ...problems,
    ...(await healthProblems(pod, config, facts)),
    ...podProblems(pod, config, facts),
    ...securityProblems(manifests, pod, config, facts),
    ...capacity.problems,
    ...scalingProblems(manifests, pod, config, capacity, facts),
  ];
}

/**
 * What is wrong with the scaler's query: metrics or labels `/metrics` does not have, queues
 * other than `QUEUE_NAME`'s, a provider other than `LLM_PROVIDER`, states a worker cannot take
 * now (delayed) or missing ones (waiting, prioritized).
 */
function queryProblems(
  query: string,
  config: Config,
  metrics: readonly Sample[],
  at: (field: string) => string,
): string[] {
  const problems: string[] = [];
  const selectors = selectorsOf(query);
  if (selectors.length === 0) problems.push(at("the query reads no ppr_ metric"));
  const labelsOf = (metric: string) =>
    new Set(
      metrics.filter((each) => each.name === metric).flatMap((each) => Object.keys(each.labels)),
    );
  const valuesOf = (metric: string, label: string) =>
    new Set(metrics.filter((each) => each.name === metric).map((each) => each.labels[label]));
  const used = new Set<string>(TARGET_LABELS);
  for (const { metric, matchers } of selectors) {
    if (!metrics.some((each) => each.name === metric)) {
      problems.push(at(`query: /metrics has no ${metric}`));
      continue;
    }
    for (const label of labelsOf(metric)) used.add(label);
    for (const { label, op, value } of matchers) {
      if (!labelsOf(metric).has(label)) {
        problems.push(at(`query: ${metric} has no label ${label}`));
        continue;
      }
      const values = matcherValues(op, value);
      if (label === "queue") {
        const queues = new Set(config.queues);
        if (
          values.some((each) => !queues.has(each)) ||
          !config.queues.every((each) => values.includes(each))
        ) {
          problems.push(
            at(`query: ${metric}'s queues ${value} are not QUEUE_NAME's (${config.queues})`),
          );
        }
      } else if (label === "provider") {
        if (values.length !== 1 || values[0] !== config.provider) {
          problems.push(
            at(`query: ${metric}'s provider ${value} is not LLM_PROVIDER (${config.provider})`),
          );
        }
      } else {
        for (const each of values) {
          if (!valuesOf(metric, label).has(each)) {
            problems.push(at(`query: ${metric} has no ${label}="${each}"`));
          }
        }
      }
    }
    if (metric === "ppr_queue_jobs") {
      const states = matchers.filter(({ label }) => label === "state")
        .flatMap(({ op, value }) => matcherValues(op, value));
      if (!matchers.some(({ label }) => label === "queue")) {
        problems.push(
          at(
            "query: ppr_queue_jobs must be limited to QUEUE_NAME's queues (result queues are reported too)",
          ),
        );
      }
      for (const state of ["waiting", "prioritized"]) {
        if (!states.includes(state)) problems.push(at(`query: ppr_queue_jobs must count ${state}`));
      }
      for (const state of ["delayed", "failed", "completed"]) {
        if (states.includes(state)) {
          problems.push(
            at(`query: ppr_queue_jobs must not count ${state}: no worker can take those now`),
          );
        }
      }
    }
  }
  for (const [, list] of query.matchAll(/\b(?:by|on|without|ignoring)\s*\(([^)]*)\)/g)) {
    for (const label of list.split(",").map((each) => each.trim()).filter(Boolean)) {
      if (!used.has(label)) {
        problems.push(at(`query: no metric of the query has the label ${label}`));
      }
    }
  }
  return problems;
}
