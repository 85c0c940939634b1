import { sql, type RawBuilder } from "kysely";
import type { LedgerRow } from "../domain/pending.js";
import type { Db } from "./db.js";

/**
 * Snapshots of target ledgers in the control database (migration 0055): what each database's
 * `runway_ledger` held when Runway last read it, plus what Runway's own runs applied there since. A
 * preview of a release onto 1,000 databases reads this one table instead of opening 1,000 target
 * sessions. A cache, never the final word: the executor checks the target's ledger inside the run.
 */

export interface TargetRef {
  instanceId: string;
  database: string;
}

export interface LedgerSnapshot extends TargetRef {
  rows: LedgerRow[];
  /** When the full ledger was read. */
  readAt: Date;
}

/** Stored compactly: [[schema_version | null, checksum], ...]. */
type Entry = [string | null, string];

const key = (t: TargetRef) => `${t.instanceId}\0${t.database}`;

/** The snapshots of the given databases that exist (keyed `instanceId\0database`), in one statement. */
export async function ledgerSnapshotsGet(db: Db, targets: readonly TargetRef[]): Promise<Map<string, LedgerSnapshot>> {
  const out = new Map<string, LedgerSnapshot>();
  if (targets.length === 0) return out;
  const { rows } = await sql<{ instance_id: string; database_name: string; entries: Entry[]; read_at: Date }>`
    SELECT s.instance_id, s.database_name, s.entries, s.read_at
    FROM unnest(${targets.map((t) => t.instanceId)}::text[], ${targets.map((t) => t.database)}::text[]) AS x(i, d)
    JOIN ledger_snapshot s ON s.instance_id = x.i AND s.database_name = x.d`.execute(db);
  for (const r of rows) {
    const snap = {
      instanceId: r.instance_id,
      database: r.database_name,
      rows: r.entries.map(([schemaVersion, checksum]) => ({ schemaVersion, checksum })),
      readAt: r.read_at,
    };
    out.set(key(snap), snap);
  }
  return out;
}

/**
 * Stores full reads, one statement for all. Compare-and-set on the read time: a read older than the stored
 * one (two replicas reading at once, one slow) changes nothing. Returns how many were stored.
 */
export async function ledgerSnapshotsPut(db: Db, snaps: readonly LedgerSnapshot[], now: Date): Promise<number> {
  if (snaps.length === 0) return 0;
  const entries = snaps.map((s) => JSON.stringify(s.rows.map((r): Entry => [r.schemaVersion, r.checksum])));
  const res = await sql`
    INSERT INTO ledger_snapshot AS s (instance_id, database_name, entries, read_at, updated_at)
    SELECT x.i, x.d, x.e, x.r, ${now}
    FROM unnest(${snaps.map((s) => s.instanceId)}::text[], ${snaps.map((s) => s.database)}::text[], ${entries}::jsonb[],
      ${snaps.map((s) => s.readAt)}::timestamptz[]) AS x(i, d, e, r)
    -- Instances deleted meanwhile are left out (and a snapshot never names an unknown instance).
    WHERE EXISTS (SELECT 1 FROM instance WHERE id = x.i)
    ON CONFLICT (instance_id, database_name) DO UPDATE SET entries = excluded.entries, read_at = excluded.read_at,
      updated_at = excluded.updated_at
      WHERE s.read_at <= excluded.read_at`.execute(db);
  return Number(res.numAffectedRows ?? 0);
}

/**
 * Changes Runway applied (their runs are DONE), one statement for a batch: each is appended to its
 * database's snapshot if there is one and it lacks the entry. A database without a snapshot gets none (a
 * partial ledger must never pass for a full one). The read time stays: the age still says when the target
 * itself was last read. Concurrent appends serialize on the row lock, and the second re-checks the row.
 */
export async function ledgerSnapshotsRecordApplied(
  db: Db,
  applied: readonly (TargetRef & { schemaVersion: string | null; checksum: string })[],
  now: Date,
): Promise<number> {
  if (applied.length === 0) return 0;
  const entries = applied.map((a) => JSON.stringify([a.schemaVersion, a.checksum]));
  const res = await sql`
    WITH add AS (
      SELECT x.i, x.d, jsonb_agg(DISTINCT x.e) AS e
      FROM unnest(${applied.map((a) => a.instanceId)}::text[], ${applied.map((a) => a.database)}::text[], ${entries}::jsonb[]) AS x(i, d, e)
      GROUP BY 1, 2
    )
    ${ledgerSnapshotsAppendSql(sql.ref("add"), now)}`.execute(db);
  return Number(res.numAffectedRows ?? 0);
}

/**
 * The append of ledgerSnapshotsRecordApplied as a statement over `add` (columns i, d: the database; e: a
 * JSON array of [schema_version, checksum] entries). The running scheduler's finish statement carries it
 * too (store/transitions/finish.ts), so a run is DONE and in its snapshot in one commit.
 */
export function ledgerSnapshotsAppendSql(add: RawBuilder<unknown>, now: Date): RawBuilder<unknown> {
  return sql`
    UPDATE ledger_snapshot s SET updated_at = ${now},
      entries = s.entries || (SELECT jsonb_agg(a) FROM jsonb_array_elements(add.e) a WHERE NOT s.entries @> jsonb_build_array(a))
    FROM ${add} add
    WHERE s.instance_id = add.i AND s.database_name = add.d AND NOT s.entries @> add.e`;
}
