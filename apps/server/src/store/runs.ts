import { sql } from "kysely";
import { prepared, type Db } from "./db.js";
import { leaseFence, type OwnerFence } from "./transitions/fence.js";
import type { Fence } from "./transitions/owner.js";
import { leaseUntil } from "./transitions/claim.js";

/** Owner writes that do not change a run's status: fenced log entries and lease renewal. */

export * from "./transitions/claim.js";
export * from "./transitions/owner.js";
export * from "./transitions/sweep.js";
export { leaseFence, type OwnerFence } from "./transitions/fence.js";

/** Appends a log entry only while the fence holds (same CAS as every other write of the owner). */
export async function taskRunAppendLog(
  db: Db,
  p: Fence & { type: string; payload: Record<string, unknown>; now: Date; fence?: OwnerFence },
): Promise<boolean> {
  const fence = (p.fence ?? leaseFence)({ replica: sql`${p.replicaId}::text`, epoch: sql`${p.epoch}::int` });
  const res = await sql`
    INSERT INTO task_run_log (task_run_id, at, type, replica_id, payload)
    SELECT r.id, ${p.now}, ${p.type}, ${p.replicaId}, ${JSON.stringify(p.payload)}::jsonb FROM task_run r
    WHERE r.id = ${p.runId} AND r.status = 'RUNNING' AND ${fence}`.execute(db);
  return Number(res.numAffectedRows ?? 0) === 1;
}

export interface LeaseState {
  owned: boolean;
  cancelRequested: boolean;
  /**
   * Still ours, but another transaction holds the row lock (e.g. a cancel in progress on a replica that
   * froze inside it): not renewed this time, and not to be read as lost. Skipping it keeps one locked row
   * from holding up the renewal of every other lease of this replica.
   */
  locked: boolean;
}

/**
 * Renews the leases of this replica's runs and reports, per run, whether it still owns it and whether a
 * cancel was requested (the backstop when a NOTIFY was missed).
 *
 * `renewWithinMs`: renew only a lease that ends within this from `now`. A lease that lasts longer is
 * confirmed by reading it, with no write and no row lock (nor a wait on another's), so a check whose
 * lease has that long left commits nothing. Default: renew every lease (the heartbeat).
 */
export async function taskRunsRenewLeases(
  db: Db,
  p: { replicaId: string; runs: { runId: string; epoch: number }[]; leaseTtlMs: number; now: Date; renewWithinMs?: number },
): Promise<Map<string, LeaseState>> {
  const out = new Map<string, LeaseState>();
  for (const r of p.runs) out.set(r.runId, { owned: false, cancelRequested: false, locked: false });
  if (p.runs.length === 0) return out;
  // Past this a lease is long enough to be read, not renewed (null: renew all).
  const longFrom = p.renewWithinMs === undefined ? null : new Date(p.now.getTime() + p.renewWithinMs);
  let toRenew = p.runs;
  if (longFrom !== null) {
    // An owner check: most leases have that long left, and reading them needs no write. The renewing statement
    // below (its joins, row locks and UPDATE) took about twice a plain read's server time even when it wrote
    // nothing (issue 19: ~0.3 checks a run in the SELECT 1 drain, 0.11–0.12 against 0.06–0.07 ms a call). So
    // the leases are read first, and only those that end sooner go on to be renewed.
    const read = await leasesRead(db, p.replicaId, p.runs, longFrom);
    toRenew = [];
    for (const r of p.runs) {
      const s = read.get(r.runId);
      if (s === undefined) continue; // not this replica's in this epoch: lost, as set above
      if (s.long) out.set(r.runId, { owned: true, cancelRequested: s.cancel, locked: false });
      else toRenew.push(r);
    }
    if (toRenew.length === 0) return out;
  }
  // The runs as a JSON document, not unnest() of arrays: a custom plan knows an array's length and a generic
  // plan guesses 10, so with the 1–3 runs of a typical owner check the generic plan looked five times dearer
  // and PostgreSQL planned every call afresh (0.37 ms of planning to 0.12 ms of execution, issue 19). A
  // document's rows are estimated alike in both, so the generic plan is kept after the first five calls.
  const { rows } = await prepared(sql<{ id: string; owned: boolean; cancel: boolean; locked: boolean }>`
    WITH x AS (
      SELECT * FROM json_to_recordset(${runsDocument(toRenew)}::json) AS x(id bigint, epoch int)
    ), r AS (
      SELECT t.id, t.lease_epoch, t.cancel_requested_at IS NOT NULL AS cancel, coalesce(t.lease_expires_at >= ${longFrom}::timestamptz, false) AS long
      FROM task_run t JOIN x ON t.id = x.id
      WHERE t.lease_epoch = x.epoch AND t.owner_replica = ${p.replicaId} AND t.status = 'RUNNING'
    ), l AS (
      -- The owner's conditions again on t: FOR UPDATE re-checks them on a row changed since the snapshot.
      SELECT t.id FROM task_run t JOIN r ON t.id = r.id AND NOT r.long
      WHERE t.lease_epoch = r.lease_epoch AND t.owner_replica = ${p.replicaId} AND t.status = 'RUNNING'
      FOR UPDATE OF t SKIP LOCKED
    ), u AS (
      UPDATE task_run t SET lease_expires_at = ${leaseUntil(p.now, p.leaseTtlMs)}
      FROM l WHERE t.id = l.id
      RETURNING t.id, t.cancel_requested_at IS NOT NULL AS cancel
    )
    SELECT x.id::text AS id, u.id IS NOT NULL OR coalesce(r.long, false) AS owned, coalesce(u.cancel, r.cancel, false) AS cancel,
      u.id IS NULL AND r.id IS NOT NULL AND NOT r.long AS locked
    FROM x LEFT JOIN r ON r.id = x.id LEFT JOIN u ON u.id = x.id`).execute(db);
  for (const r of rows) out.set(r.id, { owned: r.owned, cancelRequested: r.cancel, locked: r.locked });
  return out;
}

/**
 * The runs of `runs` this replica owns in the epoch given (RUNNING), read without a lock: per run id, whether a
 * cancel was requested and whether its lease lasts until `longFrom`. Runs it does not own are absent.
 */
async function leasesRead(
  db: Db,
  replicaId: string,
  runs: { runId: string; epoch: number }[],
  longFrom: Date,
): Promise<Map<string, { cancel: boolean; long: boolean }>> {
  const { rows } = await prepared(sql<{ id: string; cancel: boolean; long: boolean }>`
    SELECT t.id::text AS id, t.cancel_requested_at IS NOT NULL AS cancel, coalesce(t.lease_expires_at >= ${longFrom}::timestamptz, false) AS long
    FROM json_to_recordset(${runsDocument(runs)}::json) AS x(id bigint, epoch int)
    JOIN task_run t ON t.id = x.id
    WHERE t.lease_epoch = x.epoch AND t.owner_replica = ${replicaId} AND t.status = 'RUNNING'`).execute(db);
  return new Map(rows.map((r) => [r.id, { cancel: r.cancel, long: r.long }]));
}

/** Runs as the JSON document both lease statements read with json_to_recordset (see taskRunsRenewLeases). */
const runsDocument = (runs: { runId: string; epoch: number }[]) => JSON.stringify(runs.map((r) => ({ id: r.runId, epoch: r.epoch })));
