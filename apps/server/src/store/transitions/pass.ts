import { sql } from "kysely";
import { prepared, type Db } from "../db.js";
import { preparedCommit } from "../begin-prepared.js";
import { notifyChangeOf } from "../notify.js";
import { parseIds, stepIds, transitionStatement } from "./builder.js";
import { memoStatement } from "../memo-statement.js";
import {
  claimedOf,
  claimedRunning,
  leaseUntil,
  noRunWaiting,
  slotClaimValues,
  type ClaimedJson,
  type ClaimedRun,
  type SlotClaim,
} from "./claim.js";

/**
 * The rollouts with runs waiting DATABASE_BUSY on the databases the promoted sequential runs take: the API
 * names a database's holder live (the recorded cause keeps the first one), so their dashboards learn of the
 * new holder here rather than from a rewritten cause. A loose scan of task_run_wait_db_rollout_idx: one probe
 * per such rollout and database, not per waiting run.
 */
const busyWaitRollouts = sql`(
  WITH RECURSIVE d AS (SELECT DISTINCT instance_id, database_name FROM ch WHERE ch.sequential AND ch.status IN ('AVAILABLE', 'RUNNING')),
  l(i, n, rollout_id) AS (
    SELECT d.instance_id, d.database_name, (SELECT min(w.rollout_id) FROM task_run_wait w
      WHERE w.instance_id = d.instance_id AND w.database_name = d.database_name AND w.type = 'DATABASE_BUSY') FROM d
    UNION ALL
    SELECT l.i, l.n, (SELECT min(w.rollout_id) FROM task_run_wait w
      WHERE w.instance_id = l.i AND w.database_name = l.n AND w.type = 'DATABASE_BUSY' AND w.rollout_id > l.rollout_id)
    FROM l WHERE l.rollout_id IS NOT NULL
  )
  SELECT rollout_id FROM l WHERE rollout_id IS NOT NULL) bw`;

/** The pending scheduler's transitions. The pass holds its lock (see PassLock) around both. */

interface PromoteValues {
  runIds: string[];
  now: Date;
  replicaId: string;
  /** The pass's replica's claim (see gatingPromote); '' and 0 without one. */
  claimReplicaId: string;
  claimLimit: number;
  claimLeaseTtlMs: number;
}

/**
 * The promote, memoized (see memoStatement): on the pickup path of every run a gate held, one text whatever
 * the count; a second (`claim`) for a live pass whose replica has free executor slots: the first
 * `claimLimit` promoted runs (by id) become RUNNING under its lease, as its claim would make them a moment
 * later — only while no run is AVAILABLE, so none starts ahead of a run already waiting for an executor.
 * `+commit`: the pass's last statement, sent with its COMMIT (preparedCommit).
 */
export const promoteStatement = memoStatement<PromoteValues, "" | "claim" | "+commit" | "claim+commit", unknown>((p, shape) => {
  const claim = shape.startsWith("claim");
  const run = sql`k.run`;
  return (shape.endsWith("+commit") ? preparedCommit : prepared)(
    transitionStatement({
      steps: [
        {
          name: "promote",
          to: claim ? ["AVAILABLE", "RUNNING"] : ["AVAILABLE"],
          sql: ({ guard, returning }) =>
            claim
              ? sql`
        UPDATE task_run r SET status = CASE WHEN ${run} THEN 'RUNNING' ELSE 'AVAILABLE' END, updated_at = ${p.now},
          owner_replica = CASE WHEN ${run} THEN ${p.claimReplicaId}::text ELSE r.owner_replica END,
          lease_epoch = CASE WHEN ${run} THEN r.lease_epoch + 1 ELSE r.lease_epoch END,
          lease_expires_at = CASE WHEN ${run} THEN ${leaseUntil(p.now, p.claimLeaseTtlMs)} ELSE r.lease_expires_at END,
          started_at = CASE WHEN ${run} THEN coalesce(r.started_at, ${p.now}::timestamptz) ELSE r.started_at END
        FROM (SELECT x.id, row_number() OVER (ORDER BY x.id) <= ${p.claimLimit}
            AND ${noRunWaiting}
            -- As the claim's guard: a pause committed since the pass read its controls holds the run.
            AND NOT EXISTS (SELECT 1 FROM task_run y JOIN rollout_pause rp ON rp.rollout_id = y.rollout_id WHERE y.id = x.id) AS run
          FROM unnest(${p.runIds}::bigint[]) AS x(id)) k
        WHERE r.id = k.id AND ${guard}
        RETURNING ${returning}, CASE WHEN ${run} THEN 'all gates passed; claimed by ' || ${p.claimReplicaId}::text
            ELSE 'all gates passed' END AS reason, NULL::jsonb AS detail,
          ${p.now}::timestamptz AS available_at, r.retry_since, r.retry_attempts, r.auto_retries`
              : sql`
        UPDATE task_run r SET status = 'AVAILABLE', updated_at = ${p.now}
        WHERE r.id = ANY(${p.runIds}::bigint[]) AND ${guard}
        RETURNING ${returning}, 'all gates passed' AS reason, NULL::jsonb AS detail`,
        },
      ],
      now: p.now,
      replicaId: p.replicaId,
      extra: (rel) =>
        claim
          ? sql`${notifyChangeOf(busyWaitRollouts)} AS notified_busy_wait, ${stepIds(rel(0), "promoted")},
            ${claimedRunning(rel(0))}`
          : sql`${notifyChangeOf(busyWaitRollouts)} AS notified_busy_wait, ${stepIds(rel(0), "promoted")}`,
      listChanged: false,
    }),
  );
});

/**
 * PENDING → AVAILABLE (compare-and-set on status). Returns the runs promoted: a run canceled since the
 * pass read it is not, and must not count against any gate. With `claim` (a live pass's replica with free
 * slots), up to `claim.limit` of them are made RUNNING for that replica instead (promoteStatement), returned in
 * `claimed` for it to start once the pass commits. With `commit`, it is the pass's last statement and goes in one
 * message with the transaction's COMMIT (preparedCommit): the pass has committed when it returns.
 */
export async function gatingPromote(
  trx: Db,
  runIds: string[],
  now: Date,
  replicaId: string,
  claim?: SlotClaim,
  commit = false,
): Promise<{ promoted: Set<string>; claimed: ClaimedRun[] }> {
  if (runIds.length === 0) return { promoted: new Set(), claimed: [] };
  const claims = claim !== undefined && claim.limit > 0;
  const { rows } = await promoteStatement.run(trx, `${claims ? "claim" : ""}${commit ? "+commit" : ""}` as const, {
    runIds,
    now,
    replicaId,
    ...slotClaimValues(claim),
  });
  const row = rows[0] as { promoted: string; claimed?: ClaimedJson[]; installation_id?: string };
  return { promoted: parseIds(row.promoted), claimed: claimedOf(row) };
}

/** PENDING → FAILED for runs that can never run (project or instance deleted), the reason in the result. */
export async function gatingFailOrphans(trx: Db, fails: { runId: string; reason: string }[], now: Date, replicaId: string): Promise<void> {
  if (fails.length === 0) return;
  await transitionStatement({
    steps: [
      {
        name: "failOrphan",
        sql: ({ guard, returning }) => sql`
        UPDATE task_run r SET status = 'FAILED', finished_at = ${now}, updated_at = ${now},
          result = jsonb_build_object('error', jsonb_build_object('message', c.reason))
        FROM unnest(${fails.map((f) => f.runId)}::bigint[], ${fails.map((f) => f.reason)}::text[]) AS c(id, reason)
        WHERE r.id = c.id AND ${guard}
        RETURNING ${returning}, c.reason AS reason, NULL::jsonb AS detail`,
      },
    ],
    listChanged: false,
    now,
    replicaId,
  }).execute(trx);
}
