import pg from "pg";
import { sql } from "kysely";
import type { TaskType } from "@runway/shared";
import { createDb, createPool } from "@runway/server/store";
import { type Executor, PostgresExecutor } from "@runway/server/executors";
import { migrate, withDatabase } from "@runway/server/db";
import { printStatements, startCpuMeter, startProfilePg } from "./lib/profile.js";
import { NoopExecutor, startReplicas } from "./lib/replicas.js";
import { sleep } from "./lib/stats.js";
import { chainTask, createWorkload, dataTask, runAll } from "./lib/workload.js";

/**
 * A diagnostic, not a step of `pnpm bench`: where a run's time goes in the running scheduler. Drains
 * PROFILE_JOBS ungated tasks (no-op or SELECT 1 through the real executor) with PROFILE_REPLICAS replicas
 * on a PostgreSQL with pg_stat_statements loaded, then prints every statement's calls, server time and
 * share, for the control database and the target; before them, whether the machine or the benchmark process was
 * the limit (both cores' busy share, the event loop's) and the pending passes' totals. Run it through node bench/tools/measure.mjs like any benchmark:
 *
 *     PROFILE_WORK=select1 node --import tsx executor-profile.ts
 *
 * PROFILE_GATED=1 drains throughput.ts's gated shape instead (the pending passes' statements then show too).
 * PROFILE_WAL=1 adds the WAL the drain wrote per run, by relation. PROFILE_WAITS=1 adds what the control
 * database's active backends waited on (pg_stat_activity sampled every 5 ms), as a share of the samples.
 * PROFILE_QUEUE=1 adds a timeline of the executors' backlog and the databases waiting for a pass; PROFILE_PASSES=1
 * prints every pending pass as it ends (a gated drain's passes run back to back: their length bounds it).
 * PROFILE_CPU=<file> writes Node's CPU profile of the drain (summed by `node tools/cpu-summary.mjs <file>`).
 * PROFILE_SUBMIT=1 submits the work to replicas already running; PROFILE_CONCURRENCY, PROFILE_ROLLOUTS and
 * PROFILE_DBS change the slots and the gated shape (see each below).
 * Every run prints the CPU PostgreSQL's processes and Node used per run: steadier than the rate on a host
 * whose speed drifts, and what an A/B of a change should compare.
 */

const JOBS = Number(process.env.PROFILE_JOBS ?? 5000);
const REPLICAS = Number(process.env.PROFILE_REPLICAS ?? 1);
const WORK = (process.env.PROFILE_WORK ?? "noop") as "noop" | "select1";
/** PROFILE_GATED=1: throughput.ts's gated shape (each database a chain of versioned changes, limit 10 per rollout). */
const GATED = process.env.PROFILE_GATED === "1";
/** PROFILE_CONCURRENCY: executor slots per replica (default 10, as throughput.ts). */
const CONCURRENCY = Number(process.env.PROFILE_CONCURRENCY ?? 10);
if (!Number.isInteger(CONCURRENCY) || CONCURRENCY < 1)
  throw new Error(`PROFILE_CONCURRENCY must be a positive integer, got ${process.env.PROFILE_CONCURRENCY}`);
/**
 * PROFILE_ROLLOUTS / PROFILE_DBS (gated only): the shape, 50 rollouts of 10 databases by default. One of each
 * drains a single chain, one versioned change after another: a link's time is then its pickup through a pass.
 */
const ROLLOUTS = Number(process.env.PROFILE_ROLLOUTS ?? 50);
const DBS_PER_ROLLOUT = Number(process.env.PROFILE_DBS ?? 10);
for (const [name, n] of [
  ["PROFILE_ROLLOUTS", ROLLOUTS],
  ["PROFILE_DBS", DBS_PER_ROLLOUT],
] as const)
  if (!Number.isInteger(n) || n < 1 || (name === "PROFILE_ROLLOUTS" && JOBS % n !== 0))
    throw new Error(`${name} must be a positive integer${name === "PROFILE_ROLLOUTS" ? " dividing PROFILE_JOBS" : ""}, got ${n}`);
/**
 * PROFILE_SUBMIT=1: the replicas start on the empty database, analyzed as autovacuum leaves a system at rest,
 * and pass before the tasks are created and run (counted in the drain): a rollout submitted to a running system.
 */
const SUBMIT = process.env.PROFILE_SUBMIT === "1";
const WAL = process.env.PROFILE_WAL === "1";
const WAITS = process.env.PROFILE_WAITS === "1";
/** PROFILE_QUEUE=1: a timeline of the runs waiting for an executor and the databases waiting for a pass. */
const QUEUE = process.env.PROFILE_QUEUE === "1";
/** PROFILE_PASSES=1: every pending pass as it ends (when, how long, what it read, promoted, claimed and wrote). */
const PASSES = process.env.PROFILE_PASSES === "1";
/** PROFILE_CPU=<file>: Node's CPU profile of the drain, written there. */
const CPU_PROFILE = process.env.PROFILE_CPU;
const explainLog = process.env.PROFILE_EXPLAIN ? (process.env.PROFILE_EXPLAIN_LOG ?? "/tmp/runway-profile-explain.log") : undefined;

async function main(): Promise<void> {
  const server = await startProfilePg({
    // PROFILE_EXPLAIN=<ms>: auto_explain logs the plan (with timings) of every statement slower than that.
    ...(process.env.PROFILE_EXPLAIN
      ? {
          settings: {
            shared_preload_libraries: "pg_stat_statements,auto_explain",
            "auto_explain.log_min_duration": process.env.PROFILE_EXPLAIN,
            "auto_explain.log_analyze": "on",
            "auto_explain.log_buffers": "on",
            "auto_explain.log_triggers": "on",
            "auto_explain.log_nested_statements": "on",
            log_lock_waits: "on",
            deadlock_timeout: "2ms",
          },
        }
      : {}),
    ...(explainLog ? { logFile: explainLog } : {}),
  });
  const { admin } = server;
  try {
    await admin.query("CREATE DATABASE bench_profile");
    await admin.query("CREATE DATABASE bench_profile_target");
    const url = withDatabase(server.url, "bench_profile");
    await migrate(url);
    const setup = createDb(createPool(url, 2, "profile setup"));
    const rollouts = Array.from({ length: ROLLOUTS }, (_, r) =>
      Array.from({ length: JOBS / ROLLOUTS }, (_, k) => (GATED ? chainTask(r, k, DBS_PER_ROLLOUT) : dataTask("bench_profile_target"))),
    );
    const submit = async () =>
      runAll(setup, await createWorkload(setup, { parallelLimit: GATED ? 10 : 0, connectionUrl: server.url, rollouts }));
    if (!SUBMIT) await submit();
    // Statistics of the backlog, as throughput.ts gives each scenario (and autovacuum production within a
    // minute): without them the claim's generic plan expected a handful of AVAILABLE runs and read them all.
    // With PROFILE_SUBMIT, of the empty tables, as autovacuum leaves a system at rest.
    await sql`ANALYZE`.execute(setup);
    await admin.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    const executors: Executor[] = Array.from({ length: REPLICAS }, () =>
      WORK === "noop" ? new NoopExecutor() : new PostgresExecutor({ statementTimeoutMs: 60_000, poolSize: CONCURRENCY }),
    );
    const probe = new pg.Client({ connectionString: url });
    await probe.connect();
    const passes = { count: 0, candidates: 0, promoted: 0, causes: 0, ms: 0 };
    const startAll = () =>
      startReplicas({
        url,
        count: REPLICAS,
        concurrency: CONCURRENCY,
        executorFor: (i) => (_t: TaskType) => executors[i]!,
        onPass: (p) => {
          passes.count++;
          passes.candidates += p.candidates;
          passes.promoted += p.promoted;
          passes.causes += p.causesWritten;
          passes.ms += p.durationMs;
          slowest = Math.max(slowest, p.durationMs);
          if (PASSES)
            console.log(
              `pass ${p.kind} at ${(performance.now() - t0).toFixed(0)} ms: ${p.durationMs.toFixed(0)} ms, ${p.candidates} cand, ${p.promoted} promoted, ${p.claimed} claimed, ${p.causesWritten} causes`,
            );
        },
      });
    let slowest = 0;
    // When the drain began (set below, before the replicas start): the passes' lines count from it.
    let t0 = 0;
    // PROFILE_SUBMIT=1: the replicas are up and have passed (their plans made for nothing waiting) before the work comes.
    const idle = SUBMIT ? await startAll() : undefined;
    for (const deadline = performance.now() + 10_000; idle && passes.count < 2 && performance.now() < deadline;) await sleep(20);
    // PROFILE_WAL=1: the WAL the drain wrote, per relation (heap and each index), from pg_walinspect.
    if (WAL) await probe.query("CREATE EXTENSION IF NOT EXISTS pg_walinspect");
    const lsn0 = WAL ? (await probe.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn")).rows[0]!.lsn : "";
    // A first pass promotes the backlog; reset the counters once the runs are AVAILABLE and claims start.
    await admin.query("SELECT pg_stat_statements_reset()");
    const meter = await startCpuMeter(probe, CPU_PROFILE);
    t0 = performance.now();
    slowest = 0;
    const r = idle ?? (await startAll());
    if (SUBMIT) {
      await submit();
      console.log(
        `submitted ${JOBS} tasks to the running replicas in ${((performance.now() - t0) / 1000).toFixed(2)} s (counted in the drain)`,
      );
    }
    await setup.destroy();
    // PROFILE_WAITS=1: what the control database's backends wait on over the drain (pg_stat_activity, every 5 ms).
    const waits = new Map<string, number>();
    let sampling = WAITS || QUEUE;
    const sampler = WAITS ? sampleWaits(url, waits, () => sampling) : Promise.resolve(0);
    const timeline: string[] = [];
    const queue = QUEUE ? sampleQueue(url, timeline, t0, () => sampling) : Promise.resolve();
    let left = JOBS;
    while (left > 0 && performance.now() - t0 < 60_000) {
      await sleep(50);
      left = (await probe.query<{ n: number }>(`SELECT count(*)::int AS n FROM task_run WHERE status IN ('PENDING','AVAILABLE','RUNNING')`))
        .rows[0]!.n;
    }
    const seconds = (performance.now() - t0) / 1000;
    sampling = false;
    const samples = await sampler;
    await queue;
    const cpuLines = await meter.stop(JOBS - left, seconds);
    await r.stop();
    for (const e of executors) if (e instanceof PostgresExecutor) await e.close();
    console.log(`${WORK} ×${REPLICAS}: ${JOBS - left}/${JOBS} in ${seconds.toFixed(2)} s → ${Math.round((JOBS - left) / seconds)}/s`);
    // Whether Node or the machine was the limit (the event loop's busy share, both cores'), and CPU per run.
    for (const line of cpuLines) console.log(line);
    console.log(
      `pending passes: ${passes.count}, ${passes.candidates} candidates, ${passes.promoted} promoted, ${passes.causes} causes written, ${passes.ms.toFixed(0)} ms in all, the slowest ${slowest.toFixed(0)} ms`,
    );
    if (WAITS) printWaits(waits, samples);
    if (QUEUE)
      console.log(
        `\nqueue every 250 ms (ms since start: runs AVAILABLE, databases whose next run waits for a pass, runs done)\n${timeline.join("\n")}`,
      );
    if (WAL) await printWal(probe, lsn0, JOBS - left);
    await probe.end();
    // Planning counts as server time: a statement planned on every call (a custom plan) pays it each time.
    await printStatements(admin, "bench_profile%", seconds);
  } finally {
    await server.stop();
  }
}

/**
 * WAL records and bytes per completed run, by relation: the first block each record touches, named through
 * this database's pg_class (a relation of another database, e.g. the target's ledger, shows as its resource
 * manager). Full-page images are counted apart: they follow checkpoints, not the code.
 */
async function printWal(c: pg.Client, lsn0: string, runs: number): Promise<void> {
  const { rows } = await c.query<{ rel: string; records: number; bytes: number; fpi: number }>(
    `SELECT coalesce(cl.relname, '(' || w.resource_manager || ')') AS rel, count(*)::int AS records,
       sum(w.record_length)::float8 AS bytes, sum(w.fpi_length)::float8 AS fpi
     FROM pg_get_wal_records_info($1::pg_lsn, pg_current_wal_lsn()) w
     LEFT JOIN pg_class cl ON cl.relfilenode = (regexp_match(w.block_ref, 'rel \\d+/\\d+/(\\d+)'))[1]::oid
     GROUP BY 1 ORDER BY 2 DESC`,
    [lsn0],
  );
  const n = Math.max(1, runs);
  const total = rows.reduce((a, r) => a + r.records, 0);
  const bytes = rows.reduce((a, r) => a + r.bytes - r.fpi, 0);
  console.log(`WAL per run: ${(total / n).toFixed(1)} records, ${Math.round(bytes / n)} B (full-page images apart)`);
  for (const r of rows.slice(0, 30))
    console.log(
      `  ${r.rel.padEnd(40)} ${(r.records / n).toFixed(2).padStart(7)} records ${Math.round((r.bytes - r.fpi) / n)
        .toString()
        .padStart(6)} B per run`,
    );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

/**
 * Every 250 ms until `go` is false: the runs AVAILABLE (an executor's backlog), the databases whose lowest
 * active run is PENDING (in the gated shape: freed, waiting for a pass to promote the next version), and the
 * runs DONE. Where the first is 0 while the second is large, the executors wait for the passes.
 */
async function sampleQueue(url: string, into: string[], t0: number, go: () => boolean): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    while (go()) {
      const { rows } = await c.query<{ available: number; waiting: number; done: number }>(`
        SELECT (SELECT count(*)::int FROM task_run WHERE status = 'AVAILABLE') AS available,
          (SELECT count(*)::int FROM (
            SELECT DISTINCT ON (instance_id, database_name) status FROM task_run
            WHERE status IN ('PENDING', 'AVAILABLE', 'RUNNING') ORDER BY instance_id, database_name, schema_version_key, id) x
           WHERE status = 'PENDING') AS waiting,
          (SELECT count(*)::int FROM task_run WHERE status = 'DONE') AS done`);
      const r = rows[0]!;
      into.push(
        `${(performance.now() - t0).toFixed(0).padStart(6)}  ${String(r.available).padStart(5)}  ${String(r.waiting).padStart(5)}  ${String(r.done).padStart(6)}`,
      );
      await sleep(250);
    }
  } finally {
    await c.end();
  }
}

/** Counts each active backend's wait (or "on CPU") of the control database in `into` until `go` is false; returns the samples taken. */
async function sampleWaits(url: string, into: Map<string, number>, go: () => boolean): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  let samples = 0;
  try {
    while (go()) {
      const { rows } = await c.query<{ w: string; q: string }>(
        `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS w, left(regexp_replace(query, '\\s+', ' ', 'g'), 40) AS q
         FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()`,
      );
      samples++;
      for (const r of rows) {
        const k = `${r.w.padEnd(28)} ${r.q}`;
        into.set(k, (into.get(k) ?? 0) + 1);
      }
      await sleep(5);
    }
  } finally {
    await c.end();
  }
  return samples;
}

/** The waits sampled, most frequent first: backends per sample in that state. */
function printWaits(waits: Map<string, number>, samples: number): void {
  const all = [...waits.values()].reduce((a, b) => a + b, 0);
  console.log(`active backends per sample: ${(all / Math.max(1, samples)).toFixed(2)} (${samples} samples)`);
  for (const [k, n] of [...waits].sort((a, b) => b[1] - a[1]).slice(0, 25))
    console.log(`  ${(n / Math.max(1, samples)).toFixed(3).padStart(6)}  ${k}`);
}
