import type { LedgerRow } from "../domain/pending.js";
import type { TargetReader } from "../executors/target-reader.js";
import type { Clock } from "../scheduler/clock.js";
import { resolveGroup } from "../domain/group-resolution.js";
import { databaseGroupsOfInstance } from "../store/database-groups.js";
import type { Db } from "../store/db.js";
import { instanceDatabasesGet } from "../store/instance-databases.js";
import { ledgerSnapshotsGet, ledgerSnapshotsPut, type LedgerSnapshot, type TargetRef } from "../store/ledger-snapshots.js";

/**
 * Where a plan's ledgers come from: the control database's snapshots (store/ledger-snapshots.ts) when they
 * are fresh enough, the targets themselves otherwise. Every read of a target is stored as a new snapshot.
 */

/** A ledger for planning, and when it was read from the target; or why it could not be read. */
export type PlanLedger = { rows: LedgerRow[]; readAt: Date; fromSnapshot: boolean } | { error: string };

export interface LedgerFreshness {
  /**
   * Which snapshots are used as they are: "any" (a preview: the age is shown, nothing is read but
   * databases without a snapshot) or "fresh" (a create: snapshots older than `maxAgeMs` are read again).
   */
  use: "any" | "fresh";
  maxAgeMs: number;
}

/** Pure: which targets must be read now, given their snapshots. */
export function targetsToRead<T extends TargetRef>(
  targets: readonly T[],
  snapshots: ReadonlyMap<string, Pick<LedgerSnapshot, "readAt">>,
  f: LedgerFreshness,
  now: Date,
): T[] {
  return targets.filter((t) => {
    const s = snapshots.get(`${t.instanceId}\0${t.database}`);
    if (!s) return true;
    return f.use === "fresh" && now.getTime() - s.readAt.getTime() > f.maxAgeMs;
  });
}

export async function planLedgers(
  deps: { db: Db; reader: TargetReader; clock: Clock },
  targets: readonly (TargetRef & { connectionUrl: string })[],
  f: LedgerFreshness,
): Promise<Map<string, PlanLedger>> {
  const snapshots = await ledgerSnapshotsGet(deps.db, targets);
  // Taken before the reads start: a change applied during the read may be missing, never one from after it.
  const readAt = deps.clock.now();
  const toRead = targetsToRead(targets, snapshots, f, readAt);
  const reads = await deps.reader.readLedgers(toRead);
  const out = new Map<string, PlanLedger>();
  for (const [k, s] of snapshots) out.set(k, { rows: s.rows, readAt: s.readAt, fromSnapshot: true });
  const fresh: LedgerSnapshot[] = [];
  toRead.forEach((t, i) => {
    const r = reads[i]!;
    const k = `${t.instanceId}\0${t.database}`;
    if ("error" in r) {
      // An old snapshot is no answer for a database that cannot be read now: a create must not plan on it.
      out.set(k, r);
      return;
    }
    out.set(k, { rows: r.rows, readAt, fromSnapshot: false });
    fresh.push({ instanceId: t.instanceId, database: t.database, rows: r.rows, readAt });
  });
  await ledgerSnapshotsPut(deps.db, fresh, deps.clock.now());
  return out;
}

/**
 * The listing loop's part: the databases any group names on this instance get their snapshot read again
 * when it is missing or older than `olderThanMs` (bounded by the reader's parallelism), so a preview seldom
 * has to open a target session. Returns how many ledgers were read.
 */
export async function refreshGroupLedgers(
  deps: { db: Db; reader: TargetReader; clock: Clock },
  instance: { id: string; connectionUrl: string },
  olderThanMs: number,
): Promise<number> {
  const groups = await databaseGroupsOfInstance(deps.db, instance.id);
  if (groups.length === 0) return 0;
  const { databases } = await instanceDatabasesGet(deps.db, instance.id);
  const named = [...new Set(groups.flatMap((g) => resolveGroup(g, databases).databases))];
  const ledgers = await planLedgers(
    deps,
    named.map((database) => ({ instanceId: instance.id, database, connectionUrl: instance.connectionUrl })),
    { use: "fresh", maxAgeMs: olderThanMs },
  );
  return [...ledgers.values()].filter((l) => "rows" in l && !l.fromSnapshot).length;
}
