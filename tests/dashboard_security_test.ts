/** The dashboard against requests a web page on another site can make: cross-site writes, DNS rebinding. */

import { strict as assert } from "node:assert";
import { Queue } from "bullmq";
import { startRedis } from "../testing/redis.ts";
import { startDashboardProcess } from "../testing/dashboard.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };
const CREDENTIALS = { DASHBOARD_USER: "admin", DASHBOARD_PASSWORD: "a-long-dashboard-password" };
const AUTHORIZATION = `Basic ${btoa("admin:a-long-dashboard-password")}`;

/** A request with a Host header of our choosing, over a plain TCP connection (fetch sets its own). */
async function rawRequest(
  url: string,
  request: { method: string; path: string; headers: Record<string, string>; body?: string },
): Promise<number> {
  const { hostname, port } = new URL(url);
  const connection = await Deno.connect({ hostname, port: Number(port) });
  try {
    const body = request.body ?? "";
    const head = [
      `${request.method} ${request.path} HTTP/1.1`,
      ...Object.entries({ ...request.headers, "content-length": String(body.length) })
        .map(([name, value]) => `${name}: ${value}`),
      "connection: close",
      "",
      "",
    ].join("\r\n");
    await connection.write(new TextEncoder().encode(head + body));
    const reply = new TextDecoder().decode(
      await new Response(connection.readable).arrayBuffer().catch(() => new ArrayBuffer(0)),
    );
    const status = /^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1];
    assert.ok(status, `an HTTP reply: ${reply.slice(0, 200)}`);
    return Number(status);
  } finally {
    try {
      connection.close();
    } catch {
      // closed by the reader
    }
  }
}

const ADD_JOB_BODY = JSON.stringify({ name: "llm", data: { prompt: "from elsewhere" } });

Deno.test(
  "dashboard with basic auth: a cross-site POST that adds a job (Origin of another site, text/plain body) is refused with 403 and adds no job",
  integration,
  async () => {
    await using redis = await startRedis();
    await using dashboard = await startDashboardProcess([], {
      redisUrl: redis.url,
      env: CREDENTIALS,
    });
    const { host } = new URL(dashboard.url);
    const status = await rawRequest(dashboard.url, {
      method: "POST",
      path: "/api/queues/llm/add",
      headers: {
        host,
        authorization: AUTHORIZATION,
        origin: "http://evil.example",
        "content-type": "text/plain",
      },
      body: ADD_JOB_BODY,
    });
    assert.equal(status, 403);
    const queue = new Queue("llm", { connection: redis.client() });
    try {
      assert.equal(await queue.count(), 0, "no job was added");
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "dashboard with basic auth: a same-origin JSON POST (as bull-board's own page sends) still adds the job",
  integration,
  async () => {
    await using redis = await startRedis();
    await using dashboard = await startDashboardProcess([], {
      redisUrl: redis.url,
      env: CREDENTIALS,
    });
    const origin = new URL(dashboard.url).origin;
    const response = await fetch(new URL("/api/queues/llm/add", dashboard.url), {
      method: "POST",
      headers: { authorization: AUTHORIZATION, origin, "content-type": "application/json" },
      body: ADD_JOB_BODY,
    });
    await response.body?.cancel();
    assert.equal(response.status, 200);
    const queue = new Queue("llm", { connection: redis.client() });
    try {
      assert.equal(await queue.count(), 1, "the job was added");
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "dashboard on loopback without credentials: a request whose Host is another name (DNS rebinding) is refused with 403; a loopback Host is served",
  integration,
  async () => {
    await using redis = await startRedis();
    await using dashboard = await startDashboardProcess([], { redisUrl: redis.url });
    const port = new URL(dashboard.url).port;
    const get = (host: string) =>
      rawRequest(dashboard.url, { method: "GET", path: "/api/ppr", headers: { host } });
    assert.equal(await get(`evil.example:${port}`), 403);
    assert.equal(await get(`127.0.0.1:${port}`), 200);
    assert.equal(await get(`localhost:${port}`), 200);
  },
);
