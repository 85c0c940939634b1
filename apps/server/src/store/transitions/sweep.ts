import { sql } from "kysely";
import type { TaskType } from "@runway/shared";
import type { Db } from "../db.js";
import { transitionStatement } from "./builder.js";
import { connectionUrlOf } from "./claim.js";

/**
 * The sweeper's statements. A run whose lease expired is not moved at once: the sweeper first settles
 * what became of it on the target (scheduler/sweeper.ts), outside any transaction, and then writes the
 * outcome as a compare-and-set on (id, epoch, RUNNING, lease still expired) — so an owner that came back
 * and renewed in the meantime keeps its run.
 */

/**
 * What a reconciler needs to find a run's sessions and its ledger row on the target (executors/types.ts
 * TargetReconciler). A ClaimedRun and an ExpiredRun are both one.
 */
export interface RunRef {
  id: string;
  installationId: string;
  taskId: string;
  attempt: number;
  epoch: number;
  type: TaskType;
  connectionUrl: string;
  database: string;
  /** The task's statement; read for runs that are not re-runnable (what a lost session left is looked up by it). */
  statement?: string;
}

/** A RUNNING run whose lease expired, with what a TargetReconciler needs. */
export interface ExpiredRun extends RunRef {
  owner: string | null;
  rerunnable: boolean;
  cancelRequested: boolean;
  ownerLostAt: Date | null;
}

/** Up to `limit` expired runs, oldest first. A plain read: nothing is locked while the target is asked. */
export async function taskRunsExpired(db: Db, p: { now: Date; limit: number }): Promise<ExpiredRun[]> {
  const { rows } = await sql<{
    id: string;
    task_id: string;
    attempt: number;
    lease_epoch: number;
    type: TaskType;
    connection_url: string;
    database_name: string;
    owner_replica: string | null;
    rerunnable: boolean;
    cancel: boolean;
    owner_lost_at: Date | null;
    installation_id: string;
    statement: string | null;
  }>`
    SELECT r.id, r.task_id, r.attempt, r.lease_epoch, t.type, i.connection_url, r.database_name, r.owner_replica, r.rerunnable,
      r.cancel_requested_at IS NOT NULL AS cancel, r.owner_lost_at, (SELECT id::text FROM installation) AS installation_id,
      CASE WHEN NOT r.rerunnable THEN t.statement END AS statement
    FROM task_run r JOIN task t ON t.id = r.task_id JOIN instance i ON i.id = r.instance_id
    WHERE r.status = 'RUNNING' AND r.lease_expires_at < ${p.now}
    ORDER BY r.id LIMIT ${p.limit}`.execute(db);
  return rows.map((r) => ({
    id: r.id,
    installationId: r.installation_id,
    taskId: r.task_id,
    attempt: r.attempt,
    epoch: r.lease_epoch,
    type: r.type,
    connectionUrl: connectionUrlOf(r.connection_url),
    database: r.database_name,
    owner: r.owner_replica,
    rerunnable: r.rerunnable,
    cancelRequested: r.cancel,
    ownerLostAt: r.owner_lost_at,
    ...(r.statement !== null ? { statement: r.statement } : {}),
  }));
}

/** What the target said of an expired run, as the sweeper writes it. */
export type SweepOutcome = { kind: "applied"; attempt: number; appliedAt: Date } | { kind: "not_applied"; leftover?: string };

/**
 * Ends an expired run as the target's ledger says: applied → DONE (a recorded cancel never hides an
 * applied change); not applied → CANCELED when a cancel was recorded, AVAILABLE when re-runnable, else
 * FAILED. Returns the new status, or null when the run was no longer expired (its owner renewed).
 */
export async function taskRunSweep(
  db: Db,
  p: { run: ExpiredRun; outcome: SweepOutcome; now: Date; replicaId: string },
): Promise<string | null> {
  const { run, outcome } = p;
  const owner = run.owner ?? "?";
  let status: "DONE" | "CANCELED" | "AVAILABLE" | "FAILED";
  let reason: string;
  let result: unknown | undefined;
  if (outcome.kind === "applied") {
    status = "DONE";
    reason = `owner ${owner} was lost; the target's ledger shows attempt ${outcome.attempt} applied it at ${outcome.appliedAt.toISOString()}`;
    result = { alreadyApplied: true, ownerLost: owner, appliedAt: outcome.appliedAt.toISOString() };
  } else if (run.cancelRequested) {
    status = "CANCELED";
    const left = outcome.leftover ? `; ${outcome.leftover}` : "";
    reason = `lease of replica ${owner} expired while cancel was requested; not applied on the target${left}`;
    // What the lost session left (an index build's INVALID index) is shown with the run, as for FAILED.
    if (outcome.leftover) result = { error: { message: `canceled; not applied on the target${left}`, replicaId: owner } };
  } else if (run.rerunnable) {
    status = "AVAILABLE";
    reason = `lease of replica ${owner} expired; not applied on the target; run requeued`;
  } else {
    status = "FAILED";
    const left = outcome.leftover ? `; ${outcome.leftover}` : "";
    reason = `owning replica stopped responding: ${owner}; not applied on the target${left}`;
    result = { error: { message: `owning replica stopped responding${left}`, replicaId: owner } };
  }
  const { rows } = await transitionStatement({
    steps: [
      {
        name: "sweep",
        sql: ({ guard, returning }) => sql`
        UPDATE task_run r SET status = ${status}, owner_replica = NULL, lease_expires_at = NULL, updated_at = ${p.now},
          finished_at = ${status === "AVAILABLE" ? null : p.now},
          result = ${result === undefined ? sql`r.result` : sql`${JSON.stringify(result)}::jsonb`},
          owner_lost_at = NULL, owner_lost_error = NULL
        WHERE r.id = ${run.id} AND r.lease_epoch = ${run.epoch} AND r.lease_expires_at < ${p.now} AND ${guard}
        RETURNING ${returning}, ${reason}::text AS reason, jsonb_build_object('owner', ${run.owner}::text) AS detail`,
      },
    ],
    now: p.now,
    replicaId: p.replicaId,
  }).execute(db);
  return rows[0]!.changed[0]?.status ?? null;
}

/**
 * The target could not be reached to confirm that none of the run's sessions is alive: the run stays
 * RUNNING and keeps holding its gate, visibly — since when its owner is lost and why it waits. Logged
 * once, when first noticed.
 */
export async function taskRunOwnerLost(db: Db, p: { run: ExpiredRun; error: string; now: Date; replicaId: string }): Promise<void> {
  await sql`
    WITH u AS (
      UPDATE task_run SET owner_lost_at = coalesce(owner_lost_at, ${p.now}), owner_lost_error = ${p.error}
      WHERE id = ${p.run.id} AND lease_epoch = ${p.run.epoch} AND status = 'RUNNING' AND lease_expires_at < ${p.now}
      RETURNING id, owner_lost_at
    )
    INSERT INTO task_run_log (task_run_id, at, type, replica_id, payload)
    SELECT u.id, ${p.now}, 'OWNER_LOST', ${p.replicaId}, jsonb_build_object(
      'message', 'owner ' || ${p.run.owner ?? "?"}::text || ' lost since ' || to_char(u.owner_lost_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        || ', waiting to confirm on the target: ' || ${p.error}::text,
      'by', 'sweeper', 'owner', ${p.run.owner}::text, 'epoch', ${p.run.epoch}::int, 'error', ${p.error}::text)
    FROM u WHERE ${p.run.ownerLostAt === null}`.execute(db);
}
