/**
 * ioredis's Sentinel connector with one race closed: a master switch seen while the client is
 * reconnecting must not end the client for good.
 */

import { type SentinelConnectionOptions, SentinelConnector } from "ioredis";

/** The message ioredis rejects with once a client has ended. */
const CONNECTION_CLOSED = "Connection is closed.";

/** The failover detector's field this connector reads and writes (private in ioredis's types). */
interface DetectorField {
  failoverDetector: { isDisconnected: boolean } | null;
}

/**
 * ioredis's `failoverDetector` subscribes to the Sentinels' `+switch-master` and, when one comes,
 * disconnects the connector so the client reconnects to the new master. If the client is already
 * reconnecting at that moment (between asking a Sentinel for the master and connecting to it: after
 * `kill -9` of the master, or with a Sentinel that is slow to answer), ioredis 5.11 takes that
 * disconnect for the client's own `disconnect()`: the attempt fails with "Connection is closed."
 * and the client ends, never to reconnect (every command then fails the same way; seen in
 * `tests/redis_sentinel_test.ts`, 10 of 10 clients ended). This connector tells the two apart:
 * the detector marks itself disconnected before it disconnects the connector, the client's own
 * `disconnect()` finds it live (or none), so an attempt the detector cut short starts over, asking
 * the Sentinels again, and one the client cut short ends as before.
 *
 * It is given to ioredis as the `Connector` option, which `duplicate()` copies, so the connections
 * BullMQ makes from ppr-worker's (a Worker's blocking connection) have it too.
 */
export class SwitchSafeSentinelConnector extends SentinelConnector {
  /** Whether the last `disconnect()` came from the failover detector (a master switch). */
  #cutByMasterSwitch = false;

  /** ioredis constructs it with the client's options (its `Connector` type says `unknown`). */
  constructor(options: unknown) {
    super(options as SentinelConnectionOptions);
  }

  override disconnect(): void {
    const fields = this as unknown as DetectorField;
    this.#cutByMasterSwitch = fields.failoverDetector?.isDisconnected === true;
    super.disconnect();
    // The detector is cleaned up; forget it, so a later disconnect of the client's own is not
    // taken for the detector's. The next connection makes a new one.
    fields.failoverDetector = null;
  }

  override async connect(...args: Parameters<SentinelConnector["connect"]>) {
    for (;;) {
      this.#cutByMasterSwitch = false;
      try {
        return await super.connect(...args);
      } catch (error) {
        const closed = error instanceof Error && error.message === CONNECTION_CLOSED;
        if (!closed || !this.#cutByMasterSwitch) throw error;
        // The master switched while this attempt asked a Sentinel: ask again.
      }
    }
  }
}
