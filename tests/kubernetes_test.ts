/**
 * deploy/kubernetes/ read as data, without a cluster: every object against the Kubernetes and
 * KEDA schemas, and the manifests against ppr-worker's own settings, probes, metrics and image.
 * Each rule is also shown to fail, on a broken copy of the manifests or of the facts.
 */

import { strict as assert } from "node:assert";
import { createMetrics } from "../health/metrics.ts";
import type { ConfigSchema, SettingsTable } from "../config/config.ts";
import { CONFIG_SCHEMA } from "../providers/registry.ts";
import {
  agreementProblems,
  imageOf,
  type K8sObject,
  type Manifest,
  type PprFacts,
  pprFacts,
  quantityBytes,
  readManifests,
  schemaProblems,
  selectorsOf,
} from "../testing/kubernetes.ts";
import { parseExposition } from "../testing/metrics.ts";

const manifests = await readManifests();
const facts = await pprFacts();

/** A deep copy of the manifests, changed by `change`, given the objects by kind. */
function broken(change: (kinds: Record<string, K8sObject>) => void): Manifest[] {
  const copy = structuredClone(manifests);
  const kinds = Object.fromEntries(copy.map(({ object }) => [object.kind, object]));
  change(kinds);
  return copy;
}

const container = (kinds: Record<string, K8sObject>) =>
  kinds.Deployment.spec.template.spec.containers[0];
const query = (kinds: Record<string, K8sObject>) => kinds.ScaledObject.spec.triggers[0].metadata;

/** Asserts that one of `problems` matches `pattern`. */
function assertProblem(problems: string[], pattern: RegExp): void {
  assert.ok(
    problems.some((problem) => pattern.test(problem)),
    `expected a problem matching ${pattern}, got:\n${problems.join("\n") || "(none)"}`,
  );
}

/** The facts with the settings table changed: a setting renamed, or a default changed. */
function withSettings(change: (settings: Record<string, SettingsTable[string]>) => void) {
  const settings = { ...CONFIG_SCHEMA.settings };
  change(settings);
  const schema: ConfigSchema = { ...CONFIG_SCHEMA, settings };
  return { ...facts, schema } satisfies PprFacts;
}

/** The facts with `/metrics` as a build whose exposition was changed by `change` would serve it. */
async function withMetrics(change: (text: string) => string): Promise<PprFacts> {
  const text = await createMetrics(() => ({
    pool: { size: 0, slots: [], draining: false, intensityExceeded: false, restartsInPeriod: 0 },
    redis: { connected: true, latencyMs: 0, downSince: undefined },
    llm: { state: "ok", retryInSeconds: 0, claudeAuthenticated: null },
    queues: ["llm"],
    provider: "claude",
    redisGraceMs: 15_000,
    startedAt: 0,
    version: facts.version,
    queueStats: {
      queues: [{
        name: "llm",
        paused: false,
        counts: { waiting: 1, prioritized: 1, active: 1, delayed: 1, completed: 1, failed: 1 },
      }],
      providers: [{
        provider: "claude",
        state: "ok",
        reason: null,
        since: null,
        resumes_at: null,
        retry_in_s: 0,
      }],
      budgets: [],
      readAt: 0,
    },
  })).text();
  return { ...facts, metrics: parseExposition(change(text)) };
}

Deno.test("deploy/kubernetes/ holds a Deployment, ConfigMap, Secret example, claim, budget, ScaledObject and kustomization", () => {
  assert.deepEqual(
    manifests.map(({ file, object }) => `${file} ${object.kind}`),
    [
      "claude-config-pvc.yaml PersistentVolumeClaim",
      "configmap.yaml ConfigMap",
      "deployment.yaml Deployment",
      "kustomization.yaml Kustomization",
      "pod-disruption-budget.yaml PodDisruptionBudget",
      "scaled-object.yaml ScaledObject",
      "secret.example.yaml Secret",
    ],
  );
});

Deno.test("every manifest is valid against the Kubernetes and KEDA schemas", () => {
  assert.deepEqual(schemaProblems(manifests), []);
});

Deno.test("the schemas reject a wrong type, a missing required field and a kind without a schema", () => {
  const problems = schemaProblems(broken((kinds) => {
    kinds.Deployment.spec.template.spec.terminationGracePeriodSeconds = "75";
    delete kinds.ScaledObject.spec.scaleTargetRef;
    query(kinds).threshold = 8;
    kinds.ConfigMap.kind = "ConfigMapp";
  }));
  assertProblem(problems, /deployment\.yaml.*terminationGracePeriodSeconds must be integer/);
  assertProblem(problems, /scaled-object\.yaml.*must have required property scaleTargetRef/);
  assertProblem(problems, /scaled-object\.yaml.*threshold must be string/);
  assertProblem(problems, /configmap\.yaml.*no schema for v1\/ConfigMapp/);
});

Deno.test("the manifests agree with ppr-worker's settings, health server, metrics and image", async () => {
  assert.deepEqual(await agreementProblems(manifests, facts), []);
});

Deno.test("the container port is the pod's HEALTH_PORT: 8081, or HEALTH_PORT=9090 in the ConfigMap, is a problem", async () => {
  assertProblem(
    await agreementProblems(
      broken((kinds) => (container(kinds).ports[0].containerPort = 8081)),
      facts,
    ),
    /no container port is HEALTH_PORT \(8080\)/,
  );
  const moved = await agreementProblems(
    broken((kinds) => (kinds.ConfigMap.data.HEALTH_PORT = "9090")),
    facts,
  );
  assertProblem(moved, /no container port is HEALTH_PORT \(9090\)/);
  assertProblem(moved, /livenessProbe's port health is not HEALTH_PORT \(9090\)/);
  assertProblem(moved, /prometheus.io\/port 8080 is not HEALTH_PORT \(9090\)/);
});

Deno.test("without HEALTH_PORT in the image or the manifests, the port is checked against its default", async () => {
  const defaultMoved = withSettings((settings) => {
    settings.healthPort = { ...settings.healthPort, default: "9090" };
  });
  const { HEALTH_PORT: _, ...env } = facts.image.env;
  assertProblem(
    await agreementProblems(manifests, { ...defaultMoved, image: { ...facts.image, env } }),
    /no container port is HEALTH_PORT \(9090\)/,
  );
});

Deno.test("liveness GETs /health and readiness /ready, both served: swapped, or a route gone, is a problem", async () => {
  const swapped = await agreementProblems(
    broken((kinds) => {
      container(kinds).livenessProbe.httpGet.path = "/ready";
      container(kinds).readinessProbe.httpGet.path = "/health";
    }),
    facts,
  );
  assertProblem(swapped, /livenessProbe must GET \/health, not \/ready/);
  assertProblem(swapped, /readinessProbe must GET \/ready, not \/health/);
  const renamed = await agreementProblems(manifests, {
    ...facts,
    serves: (path) => Promise.resolve(path !== "/ready" && path !== "/metrics"),
  });
  assertProblem(renamed, /readinessProbe: the health server does not serve \/ready/);
  assertProblem(renamed, /prometheus.io\/path: the health server does not serve \/metrics/);
});

Deno.test("terminationGracePeriodSeconds must exceed DRAIN_TIMEOUT + 5 s, as the ConfigMap sets it or by default", async () => {
  assertProblem(
    await agreementProblems(broken((kinds) => (kinds.ConfigMap.data.DRAIN_TIMEOUT = "70s")), facts),
    /terminationGracePeriodSeconds 75 must exceed DRAIN_TIMEOUT \(70 s\) \+ 5 s/,
  );
  const byDefault = (grace: number) =>
    broken((kinds) => {
      delete kinds.ConfigMap.data.DRAIN_TIMEOUT;
      kinds.Deployment.spec.template.spec.terminationGracePeriodSeconds = grace;
    });
  assertProblem(
    await agreementProblems(byDefault(35), facts),
    /terminationGracePeriodSeconds 35 must exceed DRAIN_TIMEOUT \(30 s\) \+ 5 s/,
  );
  assert.deepEqual(await agreementProblems(byDefault(36), facts), []);
});

Deno.test("every variable the manifests set is one ppr-worker reads: an unknown one, or a renamed setting, is a problem", async () => {
  assertProblem(
    await agreementProblems(broken((kinds) => (kinds.ConfigMap.data.WORKERS = "2")), facts),
    /configmap\.yaml: WORKERS is no variable ppr-worker reads/,
  );
  assertProblem(
    await agreementProblems(
      broken((kinds) => (container(kinds).env = [{ name: "CLAUDE_HOME", value: "/x" }])),
      facts,
    ),
    /deployment\.yaml: CLAUDE_HOME is no variable ppr-worker reads/,
  );
  const renamed = withSettings((settings) => {
    settings.drainTimeoutMs = { ...settings.drainTimeoutMs, env: "DRAIN_DEADLINE" };
  });
  assertProblem(
    await agreementProblems(manifests, renamed),
    /configmap\.yaml: DRAIN_TIMEOUT is no variable ppr-worker reads/,
  );
  // The Claude CLI's own variables are read, though no setting names them.
  assert.ok(facts.readsOutsideSettings("CLAUDE_CODE_OAUTH_TOKEN"));
  assert.ok(facts.readsOutsideSettings("CLAUDE_CONFIG_DIR"));
  assert.ok(!facts.readsOutsideSettings("CLAUDE_CODE_MAX_RETRIES"), "set by ppr-worker, not read");
});

Deno.test("the pod's environment must be a valid configuration", async () => {
  assertProblem(
    await agreementProblems(broken((kinds) => (kinds.ConfigMap.data.WORKER_COUNT = "two")), facts),
    /not a valid configuration: WORKER_COUNT \(--count\) = "two"/,
  );
  assertProblem(
    await agreementProblems(
      broken((kinds) => (container(kinds).envFrom[1].secretRef.name = "ppr")),
      facts,
    ),
    /envFrom names Secret ppr, which no manifest defines/,
  );
});

Deno.test("secrets stay out of the ConfigMap, and the Secret example holds placeholders only", async () => {
  const problems = await agreementProblems(
    broken((kinds) => {
      kinds.ConfigMap.data.OPENAI_API_KEY = "CHANGE-ME";
      kinds.Secret.stringData.ANTHROPIC_API_KEY = "sk-ant-api03-abc";
      kinds.Secret.data = { REDIS_URL: btoa("redis://:hunter2@redis:6379") };
      delete kinds.Secret.stringData.REDIS_URL;
    }),
    facts,
  );
  assertProblem(problems, /configmap\.yaml: OPENAI_API_KEY is a secret/);
  assertProblem(
    problems,
    /secret\.example\.yaml: ANTHROPIC_API_KEY must be empty or a placeholder/,
  );
  assertProblem(problems, /secret\.example\.yaml: REDIS_URL must be empty or a placeholder/);
});

Deno.test("the scaler's query reads metrics and labels /metrics has: a renamed metric or label is a problem", async () => {
  assertProblem(
    await agreementProblems(
      manifests,
      await withMetrics((text) => text.replaceAll(/\bppr_queue_jobs\b/g, "ppr_queue_depth")),
    ),
    /query: \/metrics has no ppr_queue_jobs/,
  );
  assertProblem(
    await agreementProblems(
      manifests,
      await withMetrics((text) => text.replaceAll("ppr_llm_paused", "ppr_provider_paused")),
    ),
    /query: \/metrics has no ppr_llm_paused/,
  );
  const relabelled = await withMetrics((text) => text.replaceAll(/\bqueue="/g, 'queue_name="'));
  assertProblem(
    await agreementProblems(manifests, relabelled),
    /query: ppr_queue_jobs has no label queue/,
  );
  assertProblem(
    await agreementProblems(manifests, relabelled),
    /query: no metric of the query has the label queue/,
  );
  assertProblem(
    await agreementProblems(
      manifests,
      await withMetrics((text) => text.replaceAll('state="prioritized"', 'state="priority"')),
    ),
    /query: ppr_queue_jobs has no state="prioritized"/,
  );
});

Deno.test("the scaler counts what a worker can take now in QUEUE_NAME's queues: delayed jobs, other queues or providers are problems", async () => {
  const edited = (from: string, to: string) =>
    broken((kinds) => (query(kinds).query = query(kinds).query.replace(from, to)));
  assertProblem(
    await agreementProblems(
      edited("waiting|prioritized|active", "waiting|prioritized|active|delayed"),
      facts,
    ),
    /ppr_queue_jobs must not count delayed/,
  );
  assertProblem(
    await agreementProblems(edited("waiting|prioritized|active", "waiting|active"), facts),
    /ppr_queue_jobs must count prioritized/,
  );
  assertProblem(
    await agreementProblems(edited('queue="llm", state', 'queue=~"llm|results", state'), facts),
    /ppr_queue_jobs's queues llm\|results are not QUEUE_NAME's \(llm\)/,
  );
  assertProblem(
    await agreementProblems(edited('queue="llm", state', "state"), facts),
    /ppr_queue_jobs must be limited to QUEUE_NAME's queues/,
  );
  assertProblem(
    await agreementProblems(edited('provider="claude"', 'provider="openai"'), facts),
    /ppr_llm_paused's provider openai is not LLM_PROVIDER \(claude\)/,
  );
  assertProblem(
    await agreementProblems(
      broken((kinds) => (kinds.ConfigMap.data.QUEUE_NAME = "llm,recorder")),
      facts,
    ),
    /ppr_queue_jobs's queues llm are not QUEUE_NAME's \(llm,recorder\)/,
  );
});

Deno.test("the threshold is the jobs one pod runs at once, and the memory limit fits them", async () => {
  // 2 Gi fits (2048 MB x 0.9 - 300 MB) / 300 MB = 5 Claude CLI calls, not the 8 slots.
  const smaller = await agreementProblems(
    broken((kinds) => {
      container(kinds).resources.limits.memory = "2Gi";
      container(kinds).resources.requests.memory = "2Gi";
    }),
    facts,
  );
  assertProblem(
    smaller,
    /threshold 8 is not the jobs one pod runs at once: 5 \(default: \(2048 MB/,
  );
  assert.ok(!smaller.some((problem) => /worst case/.test(problem)), smaller.join("\n"));
  assertProblem(
    await agreementProblems(broken((kinds) => (kinds.ConfigMap.data.WORKER_COUNT = "1")), facts),
    /threshold 8 is not the jobs one pod runs at once: 4 \(default: \(3072 MB/,
  );
  assertProblem(
    await agreementProblems(
      broken((kinds) => {
        kinds.ConfigMap.data.WORKER_CONCURRENCY = "8";
        kinds.ConfigMap.data.LLM_MAX_IN_FLIGHT = "12";
      }),
      facts,
    ),
    /limits\.memory: worst case .* \+ 12 Claude CLI calls x 300 MB = 3900 MB is more than .* 3072 MB/,
  );
  assertProblem(
    await agreementProblems(broken((kinds) => delete container(kinds).resources.limits), facts),
    /resources\.limits\.memory must be set/,
  );
  // With an API key the claude provider runs no CLI: no memory bound, the 8 slots are the capacity.
  assert.deepEqual(
    await agreementProblems(
      broken((kinds) => {
        kinds.Secret.stringData.ANTHROPIC_API_KEY = "CHANGE-ME";
        container(kinds).resources.limits.memory = "512Mi";
        container(kinds).resources.requests.memory = "512Mi";
      }),
      facts,
    ),
    [],
  );
});

Deno.test("non-root as the image's user, read-only root, /tmp an emptyDir on disk, the login on a shared claim", async () => {
  const problems = await agreementProblems(
    broken((kinds) => {
      const pod = kinds.Deployment.spec.template.spec;
      pod.securityContext.runAsUser = 1000;
      delete pod.securityContext.runAsNonRoot;
      container(kinds).securityContext.readOnlyRootFilesystem = false;
      container(kinds).securityContext.allowPrivilegeEscalation = true;
      pod.volumes[0].emptyDir.medium = "Memory";
      kinds.PersistentVolumeClaim.spec.accessModes = ["ReadWriteOnce"];
    }),
    facts,
  );
  assertProblem(problems, /runAsNonRoot must be true/);
  assertProblem(problems, /runAsUser 1000 is not the image's USER \(65532\)/);
  assertProblem(problems, /readOnlyRootFilesystem must be true/);
  assertProblem(problems, /allowPrivilegeEscalation must be false/);
  assertProblem(problems, /\/tmp must not be a tmpfs/);
  assertProblem(problems, /claude-config-pvc\.yaml: the login is shared by pods on many nodes/);
  const unmounted = await agreementProblems(
    broken((kinds) => (container(kinds).volumeMounts = [])),
    facts,
  );
  assertProblem(unmounted, /\/tmp must be an emptyDir volume/);
  assertProblem(
    unmounted,
    /login folder \/home\/nonroot\/\.claude \(CLAUDE_CONFIG_DIR\) must be a PersistentVolumeClaim/,
  );
});

Deno.test("the objects point at each other: selectors, scale target, image tag, kustomization", async () => {
  const problems = await agreementProblems(
    broken((kinds) => {
      kinds.Deployment.spec.template.metadata.labels = { app: "ppr" };
      kinds.Deployment.spec.replicas = 3;
      kinds.Deployment.spec.template.spec.enableServiceLinks = true;
      container(kinds).image = "registry.example.com/ppr-worker:0.0.9";
      kinds.ScaledObject.spec.scaleTargetRef.name = "ppr";
      kinds.ScaledObject.spec.minReplicaCount = 0;
      query(kinds).ignoreNullValues = "true";
      kinds.Kustomization.resources = ["deployment.yaml", "secret.example.yaml", "service.yaml"];
    }),
    facts,
  );
  for (
    const pattern of [
      /deployment\.yaml: spec\.selector does not select its pods/,
      /pod-disruption-budget\.yaml: spec\.selector does not select the Deployment's pods/,
      /spec\.replicas is set/,
      /enableServiceLinks must be false/,
      /image registry\.example\.com\/ppr-worker:0\.0\.9 is not tagged with ppr-worker's version/,
      /scaleTargetRef \{"name":"ppr"\} is not the Deployment/,
      /minReplicaCount must be at least 1/,
      /ignoreNullValues must be "false"/,
      /kustomization\.yaml: lists secret\.example\.yaml, an example/,
      /kustomization\.yaml: misses configmap\.yaml/,
      /kustomization\.yaml: lists service\.yaml, which is no manifest/,
    ]
  ) assertProblem(problems, pattern);
});

Deno.test("helpers: quantities, the Dockerfile's final ENV and USER, PromQL selectors", () => {
  assert.equal(quantityBytes("3Gi"), 3 * 1024 ** 3);
  assert.equal(quantityBytes("512M"), 512e6);
  assert.equal(quantityBytes("3 GB"), undefined);
  assert.deepEqual(
    imageOf("FROM a\nENV X=1\nUSER 7\nFROM b\nUSER 65532:65532\nENV A=1 \\\n    B=/b\n"),
    { env: { A: "1", B: "/b" }, uid: 65532 },
  );
  assert.deepEqual(selectorsOf('sum(max by (q) (ppr_a{x="1", y=~"2|3"})) * ppr_b'), [
    {
      metric: "ppr_a",
      matchers: [{ label: "x", op: "=", value: "1" }, { label: "y", op: "=~", value: "2|3" }],
    },
    { metric: "ppr_b", matchers: [] },
  ]);
});
