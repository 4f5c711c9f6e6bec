/** What a reload changes: the settings it applies, those it leaves for the next start, and the workers' new environment. */

import { type ConfigSchema, type FlagValues, rawValues, shownValue } from "../config/config.ts";

/** One setting whose value the env file changed, its values as logs may show them. */
export interface SettingChange {
  /** Its variable: `LLM_MODEL_NAME`. */
  variable: string;
  /** The running value, shown (a secret as `(hidden)`, unset as `(unset)`). */
  from: string;
  /** The new value, shown likewise. */
  to: string;
}

/** A reload, planned: what changed, and the environment the restarted workers get. */
export interface ReloadPlan {
  /** Settings the rolling restart gives the workers. */
  applied: SettingChange[];
  /** Settings the supervisor shaped the pool with (`fixedAtStart`): they wait for the next start. */
  atNextStart: SettingChange[];
  /** Variables that are no setting (a token a processor reads) and changed: names only. */
  otherVariables: string[];
  /**
   * The environment with the new values, but for the settings that wait for the next start:
   * those keep their running values, so that the workers and the supervisor agree.
   */
  env: Record<string, string>;
}

/**
 * Compares the environment the pool runs with to the one just read (both with the env file's
 * variables over ppr-worker's own) and plans the reload. Flags win over both, so a setting given
 * by a flag never changes. Values are shown as error messages show them: no secret's.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { planReload } from "./reload_plan.ts";
 * import { CONFIG_SCHEMA } from "../providers/registry.ts";
 *
 * const plan = planReload({
 *   running: { WORKER_COUNT: "2", LLM_MODEL_NAME: "a", ANTHROPIC_API_KEY: "sk-1" },
 *   next: { WORKER_COUNT: "3", LLM_MODEL_NAME: "b", ANTHROPIC_API_KEY: "sk-2", TOKEN: "t" },
 *   flags: {},
 *   schema: CONFIG_SCHEMA,
 * });
 * assert.deepEqual(plan.applied, [{ variable: "LLM_MODEL_NAME", from: '"a"', to: '"b"' }]);
 * assert.deepEqual(plan.atNextStart.map((change) => change.variable), [
 *   "WORKER_COUNT",
 *   "ANTHROPIC_API_KEY",
 * ]);
 * assert.equal(plan.atNextStart[1].to, "(hidden)");
 * assert.deepEqual(plan.otherVariables, ["TOKEN"]);
 * assert.equal(plan.env.WORKER_COUNT, "2");
 * assert.equal(plan.env.LLM_MODEL_NAME, "b");
 * ```
 */
export function planReload(inputs: {
  running: Readonly<Record<string, string>>;
  next: Readonly<Record<string, string>>;
  flags: FlagValues;
  schema: ConfigSchema;
}): ReloadPlan {
  const { running, next, flags, schema } = inputs;
  const before = rawValues(flags, running, schema);
  const after = rawValues(flags, next, schema);
  const plan: ReloadPlan = { applied: [], atNextStart: [], otherVariables: [], env: { ...next } };
  const settingVariables = new Set<string>();
  for (const [key, setting] of Object.entries(schema.settings)) {
    settingVariables.add(setting.env);
    if (before[key].raw === after[key].raw) continue;
    const shown = ({ raw, source }: { raw: string | undefined; source: string }) =>
      raw === undefined
        ? "(unset)"
        : `${shownValue(setting, raw)}${source.startsWith("default") ? " (default)" : ""}`;
    const change = { variable: setting.env, from: shown(before[key]), to: shown(after[key]) };
    if (!setting.fixedAtStart) {
      plan.applied.push(change);
      continue;
    }
    plan.atNextStart.push(change);
    const runningValue = running[setting.env];
    if (runningValue === undefined) delete plan.env[setting.env];
    else plan.env[setting.env] = runningValue;
  }
  for (const variable of new Set([...Object.keys(running), ...Object.keys(next)])) {
    if (!settingVariables.has(variable) && running[variable] !== next[variable]) {
      plan.otherVariables.push(variable);
    }
  }
  return plan;
}
