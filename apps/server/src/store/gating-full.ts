import { sql, type RawBuilder } from "kysely";
import type { Db } from "./db.js";
import { applyStageGates, type GatingCandidate, type StageFacts } from "../domain/gating.js";
import { baseColumns, baseJoins, blockerProbe, stageWaitJoin, taskJoin, toCandidate, type CandidateRow } from "./gating-candidates.js";
import { gatingLoadStages, stageProgressFold } from "./gating-stages.js";
import type { HeldStages } from "./gating-held.js";
import { mergeOrdered, type Ramp } from "./gating-streams.js";
import { idleBound, idleBoundMs } from "./transitions/fence.js";

/**
 * The full pass's read: every PENDING run, in decide()'s order (domain/gating.ts, fifo), handed out in
 * batches so the replica's memory follows the batch size, not the backlog (issue 19: 1M pending runs).
 */

/** Runs per batch of a full pass: ~10 MB of candidates, a few tens of ms of decide() between statements. */
export const FULL_PASS_BATCH = 10_000;

/**
 * Runs in a full pass's first batch; each batch after it doubles, up to the batch size (gating-streams.ts,
 * Ramp). The first batch's promotions wait for all of it to be read, decided and written (then the pass's
 * checkpoint commits them): at 20,000 pending runs a first batch of 10,000 took 460 ms from the cursor's
 * sort to its promote, during which nothing ran after a start.
 */
export const FULL_PASS_FIRST_BATCH = 1_000;

/** Reader sessions a replica's full pass sorts its runs on (see gatingWithReaders): one per core here. */
export const FULL_PASS_READERS = 2;

/**
 * Part `k` of `n` of the databases, for the table aliased `alias`: the full pass's read split among readers.
 * A database is wholly in one part, so what decide() needs of its other runs and tasks (the version blockers
 * below) is in the same part.
 */
const databasePart = (alias: string, k: number, n: number): RawBuilder<unknown> =>
  n === 1
    ? sql`true`
    : sql`((hashtext(${sql.ref(`${alias}.instance_id`)}) # hashtext(${sql.ref(`${alias}.database_name`)})) & 2147483647) % ${sql.lit(n)} = ${sql.lit(k)}`;

/**
 * Every unfinished versioned task with the nearest smaller unfinished version on its database (what the
 * live read's blockerJoin probes for one run), for all of them in one ordered scan of task_open_version_idx:
 * `below` counts the tasks with a smaller version there, so in (version, id) order the blocker is the
 * below-th task of the database, the highest id of the nearest smaller version, as the probe's ORDER BY
 * picks. Measured at 100k (docs/benchmarks.md): the blockers of 70,700 open versions in ~190 ms against
 * ~800 ms for a probe per task, and ~130 ms off the full pass's read (the earlier probe per versioned run
 * was memoized for repeated keys).
 */
const openVersionBlockers = (k: number, n: number) => sql`
  SELECT x.id AS task_id, x.schema_version_key,
    CASE WHEN x.below > 0 THEN nth_value(x.id, greatest(x.below, 1)) OVER d END AS id,
    CASE WHEN x.below > 0 THEN nth_value(x.schema_version, greatest(x.below, 1)) OVER d END AS schema_version,
    CASE WHEN x.below > 0 THEN nth_value(x.status, greatest(x.below, 1)) OVER d END AS status
  FROM (
    SELECT t.id, t.instance_id, t.database_name, t.schema_version_key, t.schema_version, t.status,
      (rank() OVER (PARTITION BY t.instance_id, t.database_name ORDER BY t.schema_version_key) - 1)::int AS below
    FROM task t WHERE t.schema_version IS NOT NULL AND t.unfinished AND ${databasePart("t", k, n)}
  ) x
  WINDOW d AS (PARTITION BY x.instance_id, x.database_name ORDER BY x.schema_version_key, x.id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)`;

/**
 * Every PENDING run with what decide() needs, ordered as fifo orders them: by created_at truncated to the
 * millisecond (created_ms, what decide() compares), so ties within a millisecond go by id in both. A versioned run's
 * blocker comes from openVersionBlockers through its task; only a run whose task is not there with the
 * run's version (never expected: kept so the read cannot differ from the live one) probes instead.
 * With `n` > 1, the runs of part `k` of the databases only.
 */
const pendingQuery = (k = 0, n = 1, skip: readonly string[] = []) => sql<CandidateRow>`
  WITH ob AS (${openVersionBlockers(k, n)})
  SELECT ${baseColumns},
    coalesce(ob.id, vb.id) AS blocker_task_id, coalesce(ob.schema_version, vb.schema_version) AS blocker_version,
    coalesce(ob.status, vb.status) AS blocker_status
  FROM task_run r ${baseJoins} ${taskJoin} ${stageWaitJoin}
  LEFT JOIN ob ON ob.task_id = r.task_id AND ob.schema_version_key = r.schema_version_key
  LEFT JOIN LATERAL (${blockerProbe(sql`ob.task_id IS NULL`)}) vb ON true
  WHERE r.status = 'PENDING' AND ${databasePart("r", k, n)} AND NOT ${heldRun(skip)}
  ORDER BY r.ahead DESC, created_ms, r.id`;

/**
 * A run the full pass need not read (gatingHeldStages): its stage is in `skip` (a release control holds it,
 * and the pass recorded that on the stage), it has no cause of its own (which would shadow the stage's), and
 * it is no orphan (decide() fails those first). Such a run cannot be promoted and takes no database or slot,
 * so no other run's decision depends on it. The ids are the database's own, inlined (a cursor's query is
 * planned with its values), after a check.
 */
function heldRun(skip: readonly string[]): RawBuilder<unknown> {
  if (skip.length === 0) return sql`false`;
  if (!skip.every((id) => /^[0-9]+$/.test(id))) throw new Error("stage ids must be integers");
  return sql`(tk.stage_id = ANY(${sql.lit(`{${skip.join(",")}}`)}::bigint[]) AND w.run_id IS NULL AND NOT p.deleted AND i.deleted IS FALSE)`;
}

export interface PendingBatches {
  /** The next batch, in decide()'s order after the previous one's; empty once every PENDING run was read. */
  next(): Promise<GatingCandidate[]>;
  /** Whether the batch `next` returned last was full, so more may follow (a short or empty one is the last). */
  more(): boolean;
}

/** Where a full pass reads its runs: other sessions in the pass's snapshot (gatingWithReaders), and the pass's idle bound. */
export interface PendingReader {
  readers: Db[];
  idleMs: number;
}

/**
 * Opens the full pass's read in the pass's transaction: a cursor, so PostgreSQL evaluates and sorts the
 * runs once and every batch comes from the same snapshot, as one read of them all did. Each batch is one
 * FETCH (plus one read of the stage facts of rollouts not seen in an earlier batch, sent first). The FETCH
 * of the next batch is sent as soon as a batch arrives, so PostgreSQL returns it while the caller decides
 * this one, and two batches at most are held. The caller keeps the session busy between them (PASS_LOCK_IDLE_MS).
 * One cursor per transaction. `batch` is a fixed size, or a Ramp: batches that start small and double.
 *
 * With `via`, the cursors are on the reader sessions instead, one per reader over its part of the databases,
 * merged back into one order (gating-streams.ts), and their first FETCHes are sent at once: the pass's
 * session is free for its own statements (the occupancy read, then each batch's writes) while the readers'
 * backends sort and return the runs. The stage facts stay on the pass's session, which folded them.
 */
export async function gatingOpenPending(
  trx: Db,
  batch: number | Ramp = FULL_PASS_BATCH,
  via?: PendingReader,
  held?: HeldStages,
): Promise<PendingBatches> {
  const ramp = typeof batch === "number" ? { first: batch, max: batch } : batch;
  for (const n of [ramp.first, ramp.max])
    if (!Number.isInteger(n) || n < 1) throw new Error(`batch size must be a positive integer, got ${n}`);
  const cursorsOn = via ? via.readers : [trx];
  const skip = held?.stages.map((s) => s.stageId) ?? [];
  const fetches = await Promise.all(
    cursorsOn.map(async (on, k) => {
      await sql`DECLARE gating_full_pass NO SCROLL CURSOR FOR ${pendingQuery(k, cursorsOn.length, skip)}`.execute(on);
      return (n: number) => {
        const p = sql<CandidateRow>`FETCH FORWARD ${sql.lit(n)} FROM gating_full_pass`.execute(on).then((r) => r.rows);
        // Awaited by a later batch; a pass that fails before then rolls back, and the rejection is not unhandled.
        p.catch(() => {});
        return p;
      };
    }),
  );
  const merged = mergeOrdered(fetches, ramp, via !== undefined);
  // The release controls' facts per rollout, read once per pass: every batch of a rollout sees the same,
  // and the facts gatingHeldStages read are those its skipped runs were held by.
  const stages = new Map<string, StageFacts[]>();
  for (const f of held?.facts ?? []) {
    const list = stages.get(f.rolloutId);
    if (list) list.push(f);
    else stages.set(f.rolloutId, [f]);
  }
  let done = false;
  return {
    more: () => !done,
    async next() {
      if (done) return [];
      const rows = await merged.next();
      // With readers, every batch runs this statement on the pass's session. The first sets its idle bound
      // back (gatingWithReaders raised it for the wait for the first batch, the sort of every run); every one
      // keeps the session from sitting idle while the readers read on: a pass with nothing to write (a
      // periodic full pass that finds every cause recorded) sends nothing else, and at 1M runs it was ended
      // by the bound that way.
      // Sent, not awaited: it waits behind the previous batch's writes on that session, and neither this
      // batch's decisions nor the next FETCH need it. A failure of the session fails its next statement.
      if (via) sql`SELECT ${idleBound(via.idleMs)}`.execute(trx).catch(() => {});
      if (rows.length === 0) {
        done = true;
        return [];
      }
      // The stage facts this batch lacks are asked for before the next batch's FETCH: without readers the
      // session runs one statement at a time, and behind the FETCH they would hold this batch's decisions
      // back by as long as the FETCH takes, where now the FETCH runs while Node decides.
      const facts = loadStages(trx, rows, stages);
      if (!merged.full()) done = true;
      else merged.prefetch();
      const candidates = rows.map(toCandidate);
      applyStageGates(candidates, await facts);
      return candidates;
    },
  };
}

/**
 * Runs `fn` with `count` readers: sessions in REPEATABLE READ READ ONLY transactions that imported the
 * pass's snapshot (pg_export_snapshot), so they see exactly what a cursor declared now in the pass's
 * transaction would, except the pass's own uncommitted writes (the caller reads there only when the pass
 * has written nothing the read depends on). A full pass's FETCHes then run on their own backends while the
 * pass's session writes the batch before (issue 19: at 100k runs the FETCHes after the first were a fifth
 * of the pass), and the sort before the first batch, which nothing else overlaps, is split among them.
 * Until the first batch arrives, the pass's session is idle in its transaction: its idle bound is raised
 * by the session's statement timeout for that wait, the bound of the readers' FETCHes. Takes `count` more
 * pooled connections; the readers' transactions end with `fn`.
 */
export async function gatingWithReaders<T>(
  db: Db,
  trx: Db,
  idleMs: number,
  count: number,
  fn: (via: PendingReader) => Promise<T>,
): Promise<T> {
  if (!Number.isInteger(count) || count < 1) throw new Error(`reader count must be a positive integer, got ${count}`);
  const idle = idleBoundMs(idleMs);
  const { rows } = await sql<{ snapshot: string }>`
    SELECT pg_export_snapshot() AS snapshot, set_config('idle_in_transaction_session_timeout', (
      SELECT CASE WHEN s.setting::bigint = 0 THEN 0 ELSE s.setting::bigint + ${idle} END
      FROM pg_settings s WHERE s.name = 'statement_timeout')::text, true) AS idle`.execute(trx);
  const snapshot = rows[0]!.snapshot;
  // SET TRANSACTION SNAPSHOT takes no parameter: the id is PostgreSQL's own, checked before it is inlined.
  if (!/^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$/.test(snapshot)) throw new Error(`unexpected snapshot id ${JSON.stringify(snapshot)}`);
  const readers: Db[] = [];
  const open = (): Promise<T> =>
    readers.length === count
      ? keptBusy(readers, idle, () => fn({ readers, idleMs }))
      : db
          .transaction()
          .setIsolationLevel("repeatable read")
          .setAccessMode("read only")
          .execute(async (reader) => {
            await sql.raw(`SET TRANSACTION SNAPSHOT '${snapshot}'`).execute(reader);
            await sql`SELECT ${idleBound(idleMs)}`.execute(reader);
            readers.push(reader);
            return open();
          });
  return open();
}

/**
 * Runs `fn` while sending each reader a trivial statement every third of its idle bound. A reader waits
 * between its FETCHes for the merge to use its rows, which can take long: if its part of the databases holds
 * only the newest runs, it waits for every run of the other parts. The bound is there for a replica that
 * stopped (its timer stops too), not for a reader whose turn has not come.
 */
async function keptBusy<T>(readers: Db[], idleMs: number, fn: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => {
    for (const reader of readers) sql`SELECT 1`.execute(reader).catch(() => {});
  }, idleMs / 3);
  timer.unref();
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

/** The stage facts of the rows' rollouts, those not in `cache` read in one statement and kept there. */
async function loadStages(trx: Db, rows: CandidateRow[], cache: Map<string, StageFacts[]>): Promise<StageFacts[]> {
  const rollouts = [...new Set(rows.map((r) => r.rollout_id))];
  const missing = rollouts.filter((id) => !cache.has(id));
  if (missing.length > 0) {
    for (const id of missing) cache.set(id, []);
    for (const s of await gatingLoadStages(trx, missing)) cache.get(s.rolloutId)!.push(s);
  }
  return rollouts.flatMap((id) => cache.get(id)!);
}

/** Every PENDING run at once (one read, no cursor): what a full pass evaluates, for tests that hold a pass against it. */
export async function gatingLoadAllPending(trx: Db): Promise<GatingCandidate[]> {
  // Outside a pass, nothing has folded the stage progress yet (a pass does in gatingTakeChanges).
  await stageProgressFold(trx);
  const { rows } = await pendingQuery().execute(trx);
  const candidates = rows.map(toCandidate);
  applyStageGates(candidates, await loadStages(trx, rows, new Map()));
  return candidates;
}
