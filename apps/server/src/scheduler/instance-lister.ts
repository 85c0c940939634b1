import { TargetReader } from "../executors/target-reader.js";
import type { TargetGuard } from "../executors/target-guard.js";
import type { SecretBox } from "../secrets/secret-box.js";
import { refreshInstanceDatabases } from "../releases/instance-listing.js";
import { refreshGroupLedgers } from "../releases/ledgers.js";
import type { Listener } from "../db/listener.js";
import { Channel, type Db } from "../store/db.js";
import { instancesDueForListing, instancesToList } from "../store/instance-databases.js";
import type { Clock } from "./clock.js";
import { Loop } from "./loop.js";

/** Instances listed per batch; the loop goes on while a full batch comes back. */
const BATCH = 20;
/** Instances asked for by name (`listSoon`) kept until a round lists them: more than any burst of creates. */
const ASKED_MAX = 1000;

/**
 * Keeps every instance's database list fresh: lists those not attempted for `everyMs`, then reads the
 * ledgers of the databases its groups name whose snapshot is older than that. Idempotent and
 * compare-and-set on the listing time, so every replica may run it; a failed listing is recorded and
 * retried on the next round, not in a tight loop.
 */
export class InstanceLister {
  /** Instances to list in the next round whatever their last listing (added, or their connection changed). */
  private readonly asked = new Set<string>();

  constructor(private readonly deps: { db: Db; reader: TargetReader; clock: Clock; everyMs: number }) {}

  /** Lists `instanceId` in the next round, even if it was listed a moment ago (by another URL, perhaps). */
  listSoon(instanceId: string): void {
    if (this.asked.size < ASKED_MAX) this.asked.add(instanceId);
  }

  async runOnce(): Promise<number> {
    const asked = [...this.asked];
    this.asked.clear();
    let listed = await this.list(await instancesToList(this.deps.db, asked));
    for (;;) {
      const due = await instancesDueForListing(this.deps.db, { now: this.deps.clock.now(), olderThanMs: this.deps.everyMs, limit: BATCH });
      listed += await this.list(due);
      if (due.length < BATCH) return listed;
    }
  }

  private async list(instances: { id: string; connectionUrl: string }[]): Promise<number> {
    for (const instance of instances) {
      const listed = await refreshInstanceDatabases(this.deps, instance);
      // Ledger snapshots of grouped databases ride on the listing: previews then read no target.
      if (listed.ok) await refreshGroupLedgers(this.deps, instance, this.deps.everyMs);
    }
    return instances.length;
  }
}

/**
 * A replica's listing loop with its own target reader (replica.ts). With a `listener`, an instance added or
 * whose connection changed (Channel.INSTANCES, sent by the store) is listed at once, not at the next round.
 */
export function startInstanceLister(d: {
  db: Db;
  listener?: Listener;
  clock: Clock;
  trust: { guard: TargetGuard; secrets: SecretBox };
  log: { error: (o: object, msg?: string) => void };
  /** RUNWAY_INSTANCE_LISTING_INTERVAL_MS: each instance is listed at most this often. */
  everyMs: number;
}): { stop(): Promise<void>; firstRound: Promise<void> } {
  const reader = new TargetReader({ guard: d.trust.guard, secrets: d.trust.secrets, concurrency: 4 });
  const lister = new InstanceLister({ db: d.db, reader, clock: d.clock, everyMs: d.everyMs });
  // Looks for due instances every minute (or each interval, when that is shorter).
  const loop = new Loop("instance-databases", () => lister.runOnce(), {
    intervalMs: Math.min(60_000, d.everyMs),
    clock: d.clock,
    onError: (name, err) => d.log.error({ err, loop: name }, `${name} loop failed`),
  });
  // A reconnected listener calls with null (something may have been missed): the due instances' round covers it.
  const unlisten = d.listener?.on(Channel.INSTANCES, (id) => {
    if (id) lister.listSoon(id);
    loop.wake();
  });
  const firstRound = loop.start();
  return {
    firstRound,
    stop: async () => {
      unlisten?.();
      await loop.stop();
      await reader.close();
    },
  };
}
