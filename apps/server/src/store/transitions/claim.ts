import { sql, type RawBuilder } from "kysely";
import type { TaskType } from "@runway/shared";
import { prepared, type Db } from "../db.js";
import { transitionStatement, type TransitionStep } from "./builder.js";
import { memoStatement } from "../memo-statement.js";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "../../domain/auto-retry.js";

/** The running scheduler's claim: AVAILABLE → RUNNING, and what the executor gets of each run. */

/** A run this replica claimed: everything an executor needs, plus the fencing token (attempt, epoch). */
export interface ClaimedRun {
  id: string;
  /** This installation's id: the target ledger's key is (installation, task). */
  installationId: string;
  taskId: string;
  rolloutId: string;
  attempt: number;
  epoch: number;
  type: TaskType;
  statement: string;
  schemaVersion: string | null;
  /** Planned from a release: skipped when the target's ledger has its version (or content) from another task. */
  applyOnce?: "VERSION" | "CONTENT";
  instanceId: string;
  connectionUrl: string;
  database: string;
  rerunnable: boolean;
  availableAt: Date;
  /** Set when earlier executions could not reach the target: since when, and how many. */
  retrySince: Date | null;
  retryAttempts: number;
  /** Automatic retries of lock/serialization failures so far, and the project's retry settings. */
  autoRetries?: number;
  retryPolicy?: RetryPolicy;
}

/**
 * What a statement other than the claim (the API's create, a live pass's promote) may claim for a replica: the
 * free executor slots it holds (RunningScheduler.hold). A replica that may not claim (draining, no heartbeat)
 * holds none.
 */
export interface SlotClaim {
  replicaId: string;
  limit: number;
  leaseTtlMs: number;
}

/** A SlotClaim as a memoized statement's values ('' and 0: none). */
export const slotClaimValues = (c: SlotClaim | undefined) => ({
  claimReplicaId: c?.replicaId ?? "",
  claimLimit: c?.limit ?? 0,
  claimLeaseTtlMs: c?.leaseTtlMs ?? 0,
});

/** A run's lease expiry: `ttlMs` after `now` (a claim's, a create's or promote's claim in its place, a renewal). */
export const leaseUntil = (now: unknown, ttlMs: unknown) => sql`${now}::timestamptz + make_interval(secs => ${ttlMs}::float8 / 1000)`;

/**
 * `status = 'AVAILABLE'` as this release's reads of the AVAILABLE runs spell it, the predicate of
 * task_run_available_fifo_idx (migration 0071). The explicit collation changes nothing in the comparison
 * (statuses are ASCII words), but PostgreSQL uses a partial index only for a query whose clauses prove its
 * predicate, and a clause of another collation proves nothing. So these reads never go through the previous
 * release's task_run_available_idx (id order), kept while its replicas may still run: with both indexes and a
 * plain `status = 'AVAILABLE'`, statistics taken while no run was AVAILABLE made the claim read every AVAILABLE run
 * through that index and sort them (15 ms a claim at 20,000), and the previous release's claim, which orders by
 * id, needs that index to stay a probe (test/hot-statement-plans.test.ts checks both).
 */
export const STATUS_AVAILABLE = sql.raw(`'AVAILABLE' COLLATE "C"`);

/**
 * When a create or a promote may make a run RUNNING in the claim's place: no run is AVAILABLE, so none starts
 * ahead of a run already waiting for an executor.
 */
export const noRunWaiting = sql`NOT EXISTS (SELECT 1 FROM task_run a WHERE a.status = ${STATUS_AVAILABLE})`;

export interface ClaimParams {
  replicaId: string;
  limit: number;
  leaseTtlMs: number;
  now: Date;
}

export interface ClaimedJson {
  id: string;
  task_id: string;
  rollout_id: string;
  attempt: number;
  lease_epoch: number;
  rerunnable: boolean;
  available_at: string;
  type: TaskType;
  statement: string;
  schema_version: string | null;
  apply_once: "VERSION" | "CONTENT" | null;
  instance_id: string;
  database_name: string;
  connection_url: string;
  retry_since: string | null;
  retry_attempts: number;
  auto_retries: number;
  retry_policy: { lock_timeout_ms: number; max_auto_retries: number; backoff_base_ms: number; backoff_max_ms: number } | null;
}

/**
 * The pick's LIMIT, written into the statement: the smallest power of two at least `limit`, so a replica's
 * claims take a handful of statement texts (at most 11 up to 1,000 slots); the update then takes the oldest
 * `limit` of the picked runs. As a parameter, the generic plan assumed the LIMIT keeps 10% of the AVAILABLE
 * runs the statistics count (2,000 of a 20,000-run backlog) and costed the claim, and the finish it rides in,
 * at that: next to the custom plans it always looked dearer, so once `task_run` was analyzed with a backlog
 * every call was planned afresh (1.6 ms of planning per finish + claim, a drain at less than half its speed;
 * issue 19, docs/benchmarks.md §8). The pick locks up to twice the runs claimed; concurrent claims skip the
 * rest only while this statement runs. With a literal LIMIT the pick still walks task_run_available_fifo_idx
 * in order once the table has statistics (test/hot-statement-plans.test.ts); before its first ANALYZE it may
 * read and sort the AVAILABLE runs, which autovacuum ends within a minute of the first large rollout.
 */
export function claimBucket(limit: number): number {
  let bucket = 1;
  while (bucket < limit) bucket *= 2;
  return bucket;
}

/**
 * A run's place in the claim's queue (task_run_available_fifo_idx): when it started, for a run given back after
 * it had started (the sweeper's recovery, a drain's release, a run claimed ahead and never begun), so it goes on
 * ahead of the runs queued since; otherwise when it became AVAILABLE (`updated_at`, which every transition into
 * AVAILABLE stamps and the live view reads as the run's change, so it cannot keep an older value).
 */
const QUEUED_AT = sql.raw("COALESCE(started_at, updated_at)");

/**
 * AVAILABLE → RUNNING for up to `limit` runs, SKIP LOCKED, in queue order (QUEUED_AT, ties by id). Not by id:
 * a rollout created earlier then went ahead of every later one each time a pass promoted its next change, and
 * kept the later one waiting for as long as it had a run AVAILABLE (test/claim-order.test.ts). `bucket` is the
 * pick's literal LIMIT (claimBucket of the limit): given apart, so a memoized statement (taskRunsClaim) can take
 * it as its shape and every value of `p` as a parameter.
 */
export function claimStep(p: ClaimParams, bucket = claimBucket(p.limit)): TransitionStep {
  return {
    name: "claim",
    // Materialized: a subquery with SKIP LOCKED may be scanned again and pick other rows each time.
    inputs: sql`claim_pick AS MATERIALIZED (
      SELECT id, updated_at, ${QUEUED_AT} AS queued_at FROM task_run WHERE status = ${STATUS_AVAILABLE}
        -- A paused rollout's runs are put back to PENDING by the pause; this guard covers one made AVAILABLE
        -- by a statement that did not see the pause yet (rollout_pause is almost always empty). OFFSET 0 keeps
        -- it a probe per candidate: as an anti join, PostgreSQL guessed an empty, never-analyzed rollout_pause at
        -- 740 rows that remove all but one run, and once statistics said most runs were AVAILABLE it read and
        -- sorted every AVAILABLE run for each claim (issue 19: a 20,000-run drain at a third of its speed).
        AND NOT EXISTS (SELECT 1 FROM rollout_pause rp WHERE rp.rollout_id = task_run.rollout_id OFFSET 0)
        ORDER BY ${QUEUED_AT}, id LIMIT ${sql.lit(bucket)} FOR UPDATE SKIP LOCKED)`,
    sql: ({ guard, returning }) => sql`
      UPDATE task_run r SET status = 'RUNNING', owner_replica = ${p.replicaId}, lease_epoch = r.lease_epoch + 1,
        lease_expires_at = ${leaseUntil(p.now, p.leaseTtlMs)},
        started_at = coalesce(r.started_at, ${p.now}), updated_at = ${p.now}
      FROM (SELECT id, updated_at FROM claim_pick ORDER BY queued_at, id LIMIT ${p.limit}) c
      WHERE r.id = c.id AND ${guard}
      RETURNING ${returning}, 'claimed by ' || ${p.replicaId}::text AS reason, NULL::jsonb AS detail, c.updated_at AS available_at,
        r.retry_since, r.retry_attempts, r.auto_retries`,
  };
}

/** What an executor needs of each claimed run, as one JSON array (ids as text). */
export const claimedJson = (rel: RawBuilder<unknown>) => sql`
  (SELECT coalesce(json_agg(json_build_object(
    'id', s.id::text, 'task_id', s.task_id::text, 'rollout_id', s.rollout_id::text, 'attempt', s.attempt,
    'lease_epoch', s.lease_epoch, 'rerunnable', s.rerunnable, 'available_at', s.available_at, 'type', t.type,
    'statement', t.statement, 'schema_version', t.schema_version, 'apply_once', t.apply_once, 'instance_id', t.instance_id,
    'database_name', t.database_name, 'connection_url', i.connection_url,
    'retry_since', s.retry_since, 'retry_attempts', s.retry_attempts, 'auto_retries', s.auto_retries,
    'retry_policy', (SELECT to_jsonb(rp) FROM project_retry_policy rp JOIN rollout ro ON ro.project_id = rp.project_id
      WHERE ro.id = s.rollout_id)) ORDER BY s.id), '[]')
  FROM ${rel} s JOIN task t ON t.id = s.task_id JOIN instance i ON i.id = t.instance_id) AS claimed,
  (SELECT id::text FROM installation) AS installation_id`;

/** claimedJson of the runs a step made RUNNING (a create's or a promote's claim, among its other runs). */
export const claimedRunning = (rel: RawBuilder<unknown>) => claimedJson(sql`(SELECT * FROM ${rel} WHERE status = 'RUNNING')`);

/** The runs a statement with claimedJson claimed (none when its shape had no claim). */
export function claimedOf(row: { claimed?: ClaimedJson[]; installation_id?: string }): ClaimedRun[] {
  return (row.claimed ?? []).map((r) => toClaimed(r, row.installation_id!));
}

/** Every read of an instance's connection URL goes through here (a decrypt step would go here). */
export function connectionUrlOf(stored: string): string {
  return stored;
}

/** The one place a claimed run's row becomes a ClaimedRun. */
export function toClaimed(r: ClaimedJson, installationId: string): ClaimedRun {
  return {
    id: r.id,
    installationId,
    taskId: r.task_id,
    rolloutId: r.rollout_id,
    attempt: r.attempt,
    epoch: r.lease_epoch,
    type: r.type,
    statement: r.statement,
    schemaVersion: r.schema_version,
    ...(r.apply_once ? { applyOnce: r.apply_once } : {}),
    instanceId: r.instance_id,
    connectionUrl: connectionUrlOf(r.connection_url),
    database: r.database_name,
    rerunnable: r.rerunnable,
    availableAt: new Date(r.available_at),
    retrySince: r.retry_since ? new Date(r.retry_since) : null,
    retryAttempts: r.retry_attempts,
    autoRetries: r.auto_retries,
    retryPolicy: r.retry_policy
      ? {
          lockTimeoutMs: r.retry_policy.lock_timeout_ms,
          maxAutoRetries: r.retry_policy.max_auto_retries,
          backoffBaseMs: r.retry_policy.backoff_base_ms,
          backoffMaxMs: r.retry_policy.backoff_max_ms,
        }
      : DEFAULT_RETRY_POLICY,
  };
}

/** The claim alone, memoized per LIMIT bucket (see memoStatement). */
export const claimStatement = memoStatement<ClaimParams, number, unknown>((p, bucket) =>
  prepared(
    transitionStatement({
      steps: [claimStep(p, bucket)],
      extra: (rel) => claimedJson(rel(0)),
      // What was claimed is in `claimed`: a `changed` list of the same runs would be built for nobody.
      listChanged: false,
      now: p.now,
      replicaId: p.replicaId,
    }),
  ),
);

/**
 * AVAILABLE → RUNNING for up to `limit` runs in queue order (claimStep), in one statement. SKIP LOCKED lets
 * replicas claim side by side without waiting on or double-claiming each other's rows.
 */
export async function taskRunsClaim(db: Db, p: ClaimParams): Promise<ClaimedRun[]> {
  if (p.limit <= 0) return [];
  const { rows } = await claimStatement.run(db, claimBucket(p.limit), p);
  return claimedOf(rows[0]! as unknown as { claimed: ClaimedJson[]; installation_id: string });
}
