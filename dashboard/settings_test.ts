import { strict as assert } from "node:assert";
import { isLoopback, parseDashboardSettings, withoutDashboardCredentials } from "./settings.ts";

const CREDENTIALS = { DASHBOARD_USER: "ops", DASHBOARD_PASSWORD: "dashboard-secret-pw" };

function settingsOf(...args: Parameters<typeof parseDashboardSettings>) {
  const result = parseDashboardSettings(...args);
  assert.ok(result.ok, result.ok ? "" : result.errors.join("\n"));
  return result.settings;
}

function errorsOf(...args: Parameters<typeof parseDashboardSettings>): string[] {
  const result = parseDashboardSettings(...args);
  assert.ok(!result.ok, "expected problems");
  return result.errors;
}

Deno.test("without credentials the dashboard listens on 127.0.0.1:9181 with every action on", () => {
  assert.deepEqual(settingsOf({}, {}), {
    enabled: false,
    port: 9181,
    host: "127.0.0.1",
    credentials: undefined,
    readOnly: false,
  });
});

Deno.test("with DASHBOARD_USER and DASHBOARD_PASSWORD the dashboard listens on 0.0.0.0 with basic auth", () => {
  const settings = settingsOf({}, CREDENTIALS);
  assert.equal(settings.host, "0.0.0.0");
  assert.deepEqual(settings.credentials, { user: "ops", password: "dashboard-secret-pw" });
});

Deno.test("a non-loopback host without credentials is refused, naming the flag or the variable", () => {
  const [fromFlag] = errorsOf({ host: "0.0.0.0" }, {});
  assert.match(fromFlag, /^--host = "0\.0\.0\.0": without DASHBOARD_USER and DASHBOARD_PASSWORD/);
  const [fromEnv] = errorsOf({}, { DASHBOARD_HOST: "10.0.0.5" });
  assert.match(fromEnv, /^DASHBOARD_HOST \(--host\) = "10\.0\.0\.5": .*loopback address only/);
  assert.equal(settingsOf({ host: "::1" }, {}).host, "::1");
  assert.equal(settingsOf({}, { DASHBOARD_HOST: "localhost" }).host, "localhost");
});

Deno.test("a user without a password (or the reverse) is refused and the password is never shown", () => {
  const [noPassword] = errorsOf({}, { DASHBOARD_USER: "ops" });
  assert.match(noPassword, /^DASHBOARD_PASSWORD is not set: set both/);
  const errors = errorsOf({ port: "0" }, { DASHBOARD_PASSWORD: "dashboard-secret-pw" });
  assert.equal(errors.length, 2);
  assert.match(errors[0], /^--port = "0": must be an integer from 1 to 65535$/);
  assert.match(errors[1], /^DASHBOARD_USER is not set/);
  assert.ok(!errors.join("\n").includes("dashboard-secret-pw"));
});

Deno.test("flags win over DASHBOARD_PORT, DASHBOARD_HOST and DASHBOARD_READ_ONLY", () => {
  const env = { DASHBOARD_PORT: "9000", DASHBOARD_HOST: "127.0.0.2", DASHBOARD_READ_ONLY: "no" };
  assert.deepEqual(
    [settingsOf({}, env).port, settingsOf({}, env).host, settingsOf({}, env).readOnly],
    [9000, "127.0.0.2", false],
  );
  const flagged = settingsOf({ port: "9100", host: "127.0.0.1", readOnly: true }, env);
  assert.deepEqual([flagged.port, flagged.host, flagged.readOnly], [9100, "127.0.0.1", true]);
  assert.match(errorsOf({}, { DASHBOARD_READ_ONLY: "maybe" })[0], /must be true or false/);
});

Deno.test("beside the pool, a disabled dashboard reads nothing but DASHBOARD_ENABLED", () => {
  const unused = { DASHBOARD_HOST: "0.0.0.0", DASHBOARD_PORT: "none" };
  assert.equal(settingsOf({}, unused, { besidePool: true }).enabled, false);
  assert.equal(settingsOf({ dashboard: true }, CREDENTIALS, { besidePool: true }).enabled, true);
  assert.equal(
    settingsOf({}, { ...CREDENTIALS, DASHBOARD_ENABLED: "true" }, { besidePool: true }).enabled,
    true,
  );
  assert.equal(errorsOf({ dashboard: true }, unused, { besidePool: true }).length, 2);
  assert.match(
    errorsOf({}, { DASHBOARD_ENABLED: "sometimes" }, { besidePool: true })[0],
    /true or false/,
  );
});

Deno.test("loopback addresses are 127.0.0.0/8, ::1 and localhost", () => {
  for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"]) {
    assert.ok(isLoopback(host), host);
  }
  for (
    const host of ["0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "example.com", "127.0.0.1.nip.io"]
  ) {
    assert.ok(!isLoopback(host), host);
  }
});

Deno.test("worker processes get the environment without the dashboard's credentials", () => {
  assert.deepEqual(
    withoutDashboardCredentials({ PATH: "/bin", DASHBOARD_PORT: "9181", ...CREDENTIALS }),
    { PATH: "/bin", DASHBOARD_PORT: "9181" },
  );
});
