import { TargetReader } from "../executors/target-reader.js";
import type { TargetGuard } from "../executors/target-guard.js";
import type { SecretBox } from "../secrets/secret-box.js";
import { refreshInstanceDatabases } from "../releases/instance-listing.js";
import { refreshGroupLedgers } from "../releases/ledgers.js";
import type { Db } from "../store/db.js";
import { instancesDueForListing } from "../store/instance-databases.js";
import type { Clock } from "./clock.js";
import { Loop } from "./loop.js";

/** Instances listed per batch; the loop goes on while a full batch comes back. */
const BATCH = 20;

/**
 * Keeps every instance's database list fresh: lists those not attempted for `everyMs`, then reads the
 * ledgers of the databases its groups name whose snapshot is older than that. Idempotent and
 * compare-and-set on the listing time, so every replica may run it; a failed listing is recorded and
 * retried on the next round, not in a tight loop.
 */
export class InstanceLister {
  constructor(private readonly deps: { db: Db; reader: TargetReader; clock: Clock; everyMs: number }) {}

  async runOnce(): Promise<number> {
    let listed = 0;
    for (;;) {
      const due = await instancesDueForListing(this.deps.db, { now: this.deps.clock.now(), olderThanMs: this.deps.everyMs, limit: BATCH });
      for (const instance of due) {
        const listed = await refreshInstanceDatabases(this.deps, instance);
        // Ledger snapshots of grouped databases ride on the listing: previews then read no target.
        if (listed.ok) await refreshGroupLedgers(this.deps, instance, this.deps.everyMs);
      }
      listed += due.length;
      if (due.length < BATCH) return listed;
    }
  }
}

/** A replica's listing loop with its own target reader (replica.ts). */
export function startInstanceLister(d: {
  db: Db;
  clock: Clock;
  trust: { guard: TargetGuard; secrets: SecretBox };
  log: { error: (o: object, msg?: string) => void };
  /** RUNWAY_INSTANCE_LISTING_INTERVAL_MS: each instance is listed at most this often. */
  everyMs: number;
}): { stop(): Promise<void> } {
  const reader = new TargetReader({ guard: d.trust.guard, secrets: d.trust.secrets, concurrency: 4 });
  const lister = new InstanceLister({ db: d.db, reader, clock: d.clock, everyMs: d.everyMs });
  // Looks for due instances every minute (or each interval, when that is shorter).
  const loop = new Loop("instance-databases", () => lister.runOnce(), {
    intervalMs: Math.min(60_000, d.everyMs),
    clock: d.clock,
    onError: (name, err) => d.log.error({ err, loop: name }, `${name} loop failed`),
  });
  loop.start();
  return {
    stop: async () => {
      await loop.stop();
      await reader.close();
    },
  };
}
