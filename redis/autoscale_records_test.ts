import { strict as assert } from "node:assert";
import { startRedis } from "../testing/redis.ts";
import { listAutoscaleRecords, writeAutoscaleRecord } from "./autoscale_records.ts";
import { autoscaleRecord } from "../testing/autoscale_record.ts";

Deno.test({
  name:
    "listAutoscaleRecords: every valid record sorted by host and pool; a record with a field of the wrong type is left out",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using redis = await startRedis();
    const client = redis.client();
    try {
      await writeAutoscaleRecord(client, autoscaleRecord({ hostname: "web2" }));
      await writeAutoscaleRecord(client, autoscaleRecord({ pool: "recorder" }));
      await writeAutoscaleRecord(client, autoscaleRecord());
      const broken = { ...autoscaleRecord({ hostname: "web3" }), pool: 7, desired: "<b>" };
      await client.set("ppr:autoscale:web3", JSON.stringify(broken));
      await client.set("ppr:autoscale:web4", "not json");
      const records = await listAutoscaleRecords(client);
      assert.deepEqual(records.map((record) => [record.hostname, record.pool]), [
        ["web1", null],
        ["web1", "recorder"],
        ["web2", null],
      ]);
      assert.equal(await client.ttl("ppr:autoscale:web1"), 15);
    } finally {
      client.disconnect();
    }
  },
});
