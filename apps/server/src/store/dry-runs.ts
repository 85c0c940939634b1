import { sql } from "kysely";
import { Channel, type Db } from "./db.js";
import { PASS_LOCK_IDLE_MS, PENDING_PASS_LOCK } from "./gating.js";
import { advisoryLock } from "./transitions/fence.js";
import { notifyChange, notifyChangeOf } from "./notify.js";

/**
 * SQL of dry runs (scheduler/dry-run-scheduler.ts). A dry run is leased work like a run: claimed by one
 * replica (owner + epoch), its lease renewed while it runs, its result written as a compare-and-set on
 * (id, owner, epoch, RUNNING), and taken over (QUEUED again) or reported LOST when its lease expires.
 *
 * The database gate: a dry run starts only when no sequential run is AVAILABLE or RUNNING on its database
 * and no other dry run runs there; the pending scheduler counts a RUNNING dry run as a busy database
 * (gating-candidates.ts). The claim takes the pending pass's lock, so a pass and a claim never both see
 * the database free.
 */

/** A RUNNING dry run keeps its database busy for the pending scheduler (`null` keys: every database). */
export function dryRunsBusySql(keys: { instanceId: string; database: string }[] | null) {
  return keys === null
    ? sql`SELECT instance_id, database_name, task_id FROM dry_run WHERE status = 'RUNNING'`
    : sql`SELECT j.instance_id, j.database_name, j.task_id FROM dry_run j
        JOIN unnest(${keys.map((k) => k.instanceId)}::text[], ${keys.map((k) => k.database)}::text[]) AS d(i, n)
          ON j.instance_id = d.i AND j.database_name = d.n
        WHERE j.status = 'RUNNING'`;
}

/** Wakes every replica's dry-run loop. */
export const DRY_RUN_CHANNEL = "runway_dry_run";

export interface ClaimedDryRun {
  id: string;
  epoch: number;
  taskId: string;
  rolloutId: string;
  type: string;
  statement: string;
  database: string;
  /** The instance's connection URL as stored (sealed). */
  connectionUrl: string;
  /** What the target's ledger is asked first (a versioned task's): executors/ledger.ts. */
  schemaVersion: string | null;
  applyOnce: "VERSION" | "CONTENT" | null;
  installationId: string;
}

/**
 * Queues a dry run for each of the rollout's tasks (all, or `taskIds`), not skipped: a task whose statement
 * cannot run in a transaction (not re-runnable, or DATABASE_CREATE) gets its CANNOT result at once; a
 * task with a dry run already queued or running keeps it. One statement.
 */
export async function dryRunsQueue(
  db: Db,
  p: { rolloutId: string; taskIds: string[] | null; requestedBy: string; now: Date },
): Promise<{ queued: number; cannot: number; tasks: number }> {
  const { rows } = await sql<{ queued: number; cannot: number; tasks: number }>`
    WITH t AS (
      SELECT id, rollout_id, instance_id, database_name, (type = 'DATABASE_CREATE' OR NOT rerunnable) AS cannot FROM task
      WHERE rollout_id = ${p.rolloutId} AND (${p.taskIds}::bigint[] IS NULL OR id = ANY(${p.taskIds}::bigint[])) AND NOT skipped
    ), c AS (
      INSERT INTO dry_run (task_id, rollout_id, instance_id, database_name, status, outcome, result, requested_by, created_at, finished_at)
      SELECT id, rollout_id, instance_id, database_name, 'CANNOT', 'CANNOT_DRY_RUN',
        jsonb_build_object('message', 'the statement cannot run inside a transaction, so it cannot be dry-run; it was not executed'),
        ${p.requestedBy}, ${p.now}, ${p.now}
      FROM t WHERE cannot
      RETURNING 1
    ), q AS (
      INSERT INTO dry_run (task_id, rollout_id, instance_id, database_name, status, requested_by, created_at)
      SELECT id, rollout_id, instance_id, database_name, 'QUEUED', ${p.requestedBy}, ${p.now} FROM t WHERE NOT cannot ORDER BY id
      ON CONFLICT (task_id) WHERE status IN ('QUEUED', 'RUNNING') DO NOTHING
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM q)::int AS queued, (SELECT count(*) FROM c)::int AS cannot, (SELECT count(*) FROM t)::int AS tasks,
      pg_notify(${DRY_RUN_CHANNEL}, '')`.execute(db);
  await notifyChange(db, [p.rolloutId]);
  return rows[0]!;
}

/**
 * Claims up to `limit` QUEUED dry runs on databases that are free (see above), at most one per database.
 * Returns [] when a pending pass holds the lock (the next tick tries again).
 */
export async function dryRunsClaim(
  db: Db,
  p: { replicaId: string; limit: number; leaseTtlMs: number; now: Date },
): Promise<ClaimedDryRun[]> {
  if (p.limit <= 0) return [];
  return db.transaction().execute(async (trx) => {
    // Its own statement, before the claim's: the claim's snapshot must be taken after the lock is held.
    // Taken as the pending pass takes it, with the idle bound: a replica frozen inside this transaction
    // would otherwise keep every replica's pending pass out for as long as it stays frozen.
    const lock = await sql<{ ok: boolean }>`SELECT ${advisoryLock(PENDING_PASS_LOCK, PASS_LOCK_IDLE_MS)} AS ok`.execute(trx);
    if (!lock.rows[0]?.ok) return [];
    const { rows } = await sql<ClaimedDryRun>`
      WITH c AS (
        SELECT id FROM (
          SELECT DISTINCT ON (j.instance_id, j.database_name) j.id FROM dry_run j
          WHERE j.status = 'QUEUED'
            AND NOT EXISTS (
              SELECT 1 FROM task_run r WHERE r.instance_id = j.instance_id AND r.database_name = j.database_name
                AND r.status IN ('AVAILABLE', 'RUNNING') AND r.sequential)
            AND NOT EXISTS (
              SELECT 1 FROM dry_run o WHERE o.instance_id = j.instance_id AND o.database_name = j.database_name AND o.status = 'RUNNING')
          ORDER BY j.instance_id, j.database_name, j.id
        ) d ORDER BY id LIMIT ${p.limit}
      )
      UPDATE dry_run j SET status = 'RUNNING', owner_replica = ${p.replicaId}, lease_epoch = j.lease_epoch + 1,
        lease_expires_at = ${p.now}::timestamptz + make_interval(secs => ${p.leaseTtlMs / 1000}),
        started_at = ${p.now}, attempts = j.attempts + 1
      FROM c, task t, instance i
      WHERE j.id = c.id AND j.status = 'QUEUED' AND t.id = j.task_id AND i.id = j.instance_id
      RETURNING j.id::text AS id, j.lease_epoch AS epoch, j.task_id::text AS "taskId", j.rollout_id::text AS "rolloutId",
        t.type, t.statement, j.database_name AS database, i.connection_url AS "connectionUrl",
        t.schema_version AS "schemaVersion", t.apply_once AS "applyOnce", (SELECT id::text FROM installation) AS "installationId"`.execute(
      trx,
    );
    if (rows.length > 0)
      await notifyChange(
        trx,
        rows.map((r) => r.rolloutId),
      );
    return rows;
  });
}

/** Renews this replica's dry runs' leases; returns the ids it still owns. */
export async function dryRunsRenew(
  db: Db,
  p: { replicaId: string; jobs: { id: string; epoch: number }[]; leaseTtlMs: number; now: Date },
): Promise<Set<string>> {
  if (p.jobs.length === 0) return new Set();
  const { rows } = await sql<{ id: string }>`
    UPDATE dry_run j SET lease_expires_at = ${p.now}::timestamptz + make_interval(secs => ${p.leaseTtlMs / 1000})
    FROM unnest(${p.jobs.map((j) => j.id)}::bigint[], ${p.jobs.map((j) => j.epoch)}::int[]) AS x(id, epoch)
    WHERE j.id = x.id AND j.lease_epoch = x.epoch AND j.owner_replica = ${p.replicaId} AND j.status = 'RUNNING'
    RETURNING j.id::text AS id`.execute(db);
  return new Set(rows.map((r) => r.id));
}

/**
 * The owner's result (fenced: owner + epoch + RUNNING). Frees the database: the pending scheduler looks at
 * it again (runs there may have been held DATABASE_BUSY by this dry run). False when the fence refused.
 */
export async function dryRunFinish(
  db: Db,
  p: { id: string; replicaId: string; epoch: number; outcome: string; result: Record<string, unknown>; now: Date },
): Promise<boolean> {
  const { rows } = await sql<{ rollout_id: string }>`
    WITH f AS (
      UPDATE dry_run SET status = 'DONE', outcome = ${p.outcome}, result = ${JSON.stringify(p.result)}::jsonb, finished_at = ${p.now},
        owner_replica = NULL, lease_expires_at = NULL
      WHERE id = ${p.id} AND owner_replica = ${p.replicaId} AND lease_epoch = ${p.epoch} AND status = 'RUNNING'
      RETURNING rollout_id, instance_id, database_name
    ), d AS (
      INSERT INTO gating_dirty_database (instance_id, database_name) SELECT instance_id, database_name FROM f RETURNING 1
    )
    SELECT f.rollout_id::text AS rollout_id, (SELECT count(*) FROM d) AS marked, ${notifyChangeOf(sql`f`)},
      pg_notify(${Channel.PENDING}, ''), pg_notify(${DRY_RUN_CHANNEL}, '') FROM f`.execute(db);
  return rows.length > 0;
}

/**
 * Dry runs whose owner stopped renewing: taken over (QUEUED again) while attempts remain, else LOST. A dry
 * run never commits, so running it again is harmless; its database is freed for the pending scheduler
 * once the lost owner's target session must have ended.
 */
export async function dryRunsSweep(
  db: Db,
  p: { now: Date; maxAttempts: number; statementTimeoutMs: number },
): Promise<{ requeued: number; lost: number }> {
  const { rows } = await sql<{ requeued: number; lost: number }>`
    WITH s AS (
      UPDATE dry_run j SET
        status = CASE WHEN j.attempts >= ${p.maxAttempts} THEN 'LOST' ELSE 'QUEUED' END,
        outcome = CASE WHEN j.attempts >= ${p.maxAttempts} THEN 'LOST' END,
        result = CASE WHEN j.attempts >= ${p.maxAttempts}
          THEN jsonb_build_object('message', 'the replicas running this dry run stopped responding ' || j.attempts || ' times; nothing was committed') END,
        finished_at = CASE WHEN j.attempts >= ${p.maxAttempts} THEN ${p.now}::timestamptz END,
        owner_replica = NULL, lease_expires_at = NULL
      FROM task t
      -- The lost owner's session may still run on the target: it ends by itself within its statements'
      -- timeouts (one per statement, and the idle-in-transaction bound), so the database is freed after that.
      WHERE j.status = 'RUNNING' AND t.id = j.task_id
        AND j.lease_expires_at + make_interval(secs => ${p.statementTimeoutMs / 1000}
          * (2 + length(t.statement) - length(replace(t.statement, ';', '')))) < ${p.now}
      RETURNING j.status, j.rollout_id, j.instance_id, j.database_name
    ), d AS (
      INSERT INTO gating_dirty_database (instance_id, database_name) SELECT instance_id, database_name FROM s RETURNING 1
    )
    SELECT count(*) FILTER (WHERE status = 'QUEUED')::int AS requeued, count(*) FILTER (WHERE status = 'LOST')::int AS lost,
      (SELECT count(*) FROM d) AS marked, ${notifyChangeOf(sql`s`)},
      CASE WHEN count(*) > 0 THEN pg_notify(${Channel.PENDING}, '') END,
      CASE WHEN count(*) > 0 THEN pg_notify(${DRY_RUN_CHANNEL}, '') END
    FROM s`.execute(db);
  return { requeued: rows[0]?.requeued ?? 0, lost: rows[0]?.lost ?? 0 };
}
