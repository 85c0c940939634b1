import pg from "pg";
import type { TaskType } from "@runway/shared";
import { createDb, createPool, type NewTask } from "@runway/server/store";
import { type Executor, PostgresExecutor } from "@runway/server/executors";
import type { PassResult } from "@runway/server/scheduler";
import { withDatabase } from "@runway/server/db";
import {
  graphileEnqueue,
  graphileRemaining,
  graphileStart,
  pgBossEnqueue,
  pgBossRemaining,
  pgBossStart,
  type JobFn,
} from "./lib/queues.js";
import { machineInfo, startBenchPg, writeResult, type BenchPg, runMain } from "./lib/pg.js";
import { NoopExecutor, startReplicas } from "./lib/replicas.js";
import { ratio, sleep } from "./lib/stats.js";
import { chainTask, createWorkload, dataTask, runAll } from "./lib/workload.js";
import { ReturnCounter } from "./lib/returns.js";

/**
 * `pnpm bench` step 3, throughput: JOBS trivial tasks queued up front, then 1 or 3 replicas (in this
 * process, each with its own pools and LISTEN connection) drain them; the clock runs from starting the
 * workers until the database says none is left, or CAP_S at most (the rate reached is reported). The
 * database is asked once every task function has returned (counted in this process), then every
 * FINAL_POLL_MS until the last completions are written (see drain()).
 * graphile-worker and pg-boss get the same job count and concurrency per replica. Each workload is built
 * once (through the store, or the queue's own API) and cloned per scenario with CREATE DATABASE … TEMPLATE.
 */

const JOBS = Number(process.env.BENCH_THROUGHPUT_JOBS ?? 20_000);
const CONCURRENCY = 10;
/** How often the database is asked while the last completions are being written. */
const FINAL_POLL_MS = 2;
/** How often it is asked before that, in case the count in this process misses a completion. */
const BACKSTOP_POLL_MS = 1000;
// Draining 20,000 tasks to the end in every scenario would take the suite well past 15 minutes here; the
// rate over the first CAP_S seconds of the same backlog is the steady state (and counts our one-off full
// pass, which promotes the whole backlog, against us).
const CAP_S = Number(process.env.BENCH_THROUGHPUT_CAP_S ?? 20);
const DATABASES = 1000;
const ROLLOUTS = 100;
const GATED_LIMIT = 10;
const TARGET = "bench_target";

type Work = "noop" | "select1";
type System = "runway" | "runway-gated" | "runway-1-rollout" | "graphile-worker" | "pg-boss";
interface Scenario {
  system: System;
  work: Work;
  replicas: number;
}

interface Row extends Scenario {
  jobs: number;
  completed: number;
  seconds: number;
  tasksPerSec: number;
  capped: boolean;
  /** Committed transactions in the system's database per completed task (every autocommit statement is one). */
  xactsPerTask: number;
  /**
   * WAL written per completed task: records and bytes (pg_stat_wal, the cluster's, over the drain). Unlike the
   * rate it does not depend on the machine's speed, so it compares the work each system does per task, and
   * code changes too small for the rate's noise. The targets share the cluster: for SELECT 1 it includes what the
   * run writes there (Runway's ledger row).
   */
  walPerTask?: { records: number; bytes: number };
  /** Runway only: pending passes during the scenario (all replicas), to tell scheduling time from the rest. */
  passes?: { count: number; firstMs: number; firstPromoted: number; liveMeanMs: number; lockHeld?: number };
  /** Each round's own figures when the step ran more than one (tasksPerSec above is their mean). */
  rounds?: Omit<Row, keyof Scenario | "rounds">[];
}

/**
 * Rounds of every scenario (BENCH_THROUGHPUT_REPEAT, default 2), the order reversed every other round:
 * scenarios run one after another, and on this shared machine the speed drifted by 40% within minutes
 * (docs/benchmarks.md §8), so a ratio of two scenarios run once each measured partly the drift. With the
 * order A B … B A, a drift that is steady over the step falls on both sides of each ratio alike.
 */
const REPEAT = Math.max(1, Math.trunc(Number(process.env.BENCH_THROUGHPUT_REPEAT ?? 2)));

const count = async (pool: pg.Pool, q: string, values: unknown[] = []) => (await pool.query<{ n: number }>(q, values)).rows[0]!.n;
const xacts = (pool: pg.Pool) =>
  count(pool, `SELECT (xact_commit + xact_rollback)::float8 AS n FROM pg_stat_database WHERE datname = current_database()`);
const wal = async (pool: pg.Pool) =>
  (
    await pool.query<{ records: number; bytes: number }>(
      `SELECT wal_records::float8 AS records, wal_bytes::float8 AS bytes FROM pg_stat_wal`,
    )
  ).rows[0]!;

/**
 * Starts the workers, waits until `remaining` says zero or the cap, stops them; returns the rate. `start`
 * gets `ended`, for each task function (or executor) that returned: the database is asked once they add
 * up to the total (then every FINAL_POLL_MS), and only every BACKSTOP_POLL_MS before that (ReturnCounter).
 * Polling it all along, every 50 ms, was the harness's own load on the server it measures, and not alike:
 * Runway's count (three partial indexes, full of entries vacuum had not removed yet) took 5.9 ms a poll in a
 * SELECT 1 drain, 12% of a core, graphile-worker's 1.6 ms (issue 19, docs/benchmarks.md §8).
 */
async function drain(
  s: Scenario,
  url: string,
  start: (ended: () => void) => Promise<() => Promise<void>>,
  remaining: (pool: pg.Pool) => Promise<number>,
): Promise<Row> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  pool.on("error", () => undefined);
  const total = await remaining(pool);
  const x0 = await xacts(pool);
  const w0 = await wal(pool);
  const returns = new ReturnCounter(total, { backstopMs: BACKSTOP_POLL_MS, finalMs: FINAL_POLL_MS });
  const t0 = performance.now();
  const stop = await start(returns.ended);
  let left = total;
  let polls = 0;
  const capAt = t0 + CAP_S * 1000;
  while (left > 0 && performance.now() < capAt) {
    await returns.untilNextPoll(capAt);
    left = await remaining(pool);
    polls++;
  }
  const seconds = (performance.now() - t0) / 1000;
  const s0 = performance.now();
  await stop();
  const stopS = (performance.now() - s0) / 1000;
  // Backends report their counts when they exit or within a second of going idle.
  await sleep(1100);
  const spent = (await xacts(pool)) - x0 - polls - 1;
  // Polls write no WAL; the wait above lets the WAL statistics of the stopped backends arrive as well.
  const w1 = await wal(pool);
  await pool.end();
  const completed = total - left;
  const row: Row = {
    ...s,
    jobs: total,
    completed,
    seconds: Number(seconds.toFixed(2)),
    tasksPerSec: Math.round(completed / seconds),
    capped: left > 0,
    xactsPerTask: Number((spent / Math.max(1, completed)).toFixed(1)),
    walPerTask: {
      records: Number(((w1.records - w0.records) / Math.max(1, completed)).toFixed(1)),
      bytes: Math.round((w1.bytes - w0.bytes) / Math.max(1, completed)),
    },
  };
  console.log(
    `${s.system} ${s.work} ×${s.replicas}: ${completed}/${total} in ${row.seconds} s → ${row.tasksPerSec}/s${row.capped ? " (capped)" : ""}, ${row.xactsPerTask} xacts/task, WAL ${row.walPerTask!.records} records / ${row.walPerTask!.bytes} B per task (stopping took ${stopS.toFixed(1)} s)`,
  );
  return row;
}

/**
 * Runway workloads, PENDING runs ready for a first pass. Ungated and gated share one shape (1,000 databases
 * in 100 rollouts) so their ratio is the cost of the gates alone: ungated are data updates (not sequential,
 * no version) on the target database under no limit; gated are versioned schema changes (sequential, each
 * database a chain of JOBS/1,000 versions) under a limit of 10 per rollout. "1 rollout" puts the ungated
 * tasks in a single rollout, as one bulk data fix across a fleet would be.
 */
function runwayTasks(kind: "ungated" | "gated" | "one-rollout"): NewTask[][] {
  const perRollout = JOBS / ROLLOUTS;
  const dbsPerRollout = DATABASES / ROLLOUTS;
  if (kind === "one-rollout") return [Array.from({ length: JOBS }, () => dataTask(TARGET))];
  return Array.from({ length: ROLLOUTS }, (_, r) =>
    Array.from({ length: perRollout }, (_, k) => (kind === "gated" ? chainTask(r, k, dbsPerRollout) : dataTask(TARGET))),
  );
}

async function buildTemplates(
  serverPg: BenchPg,
  targetUrl: string,
): Promise<Record<"ungated" | "gated" | "one-rollout" | "graphile" | "pgboss", string>> {
  const t0 = performance.now();
  const kinds = SCENARIOS.some((s) => s.system === "runway-1-rollout")
    ? (["ungated", "gated", "one-rollout"] as const)
    : (["ungated", "gated"] as const);
  for (const kind of kinds) {
    const url = await serverPg.freshDatabase(`bench_tpl_${kind.replace("-", "_")}`);
    const db = createDb(createPool(url, 2, "bench setup"));
    const w = await createWorkload(db, {
      parallelLimit: kind === "gated" ? GATED_LIMIT : 0,
      connectionUrl: targetUrl,
      rollouts: runwayTasks(kind),
    });
    await runAll(db, w);
    await db.destroy();
  }
  const graphileUrl = await serverPg.emptyDatabase("bench_tpl_graphile");
  await graphileEnqueue(graphileUrl, JOBS);
  const pgBossUrl = await serverPg.emptyDatabase("bench_tpl_pgboss");
  await pgBossEnqueue(pgBossUrl, JOBS);
  // Every template analyzed, so each clone starts with statistics of its backlog, as production's tables have
  // within a minute of a bulk change (autovacuum). Before, a clone had them or not depending on whether
  // autovacuum had reached its template yet, and PostgreSQL planned some statements differently in each case:
  // run alone right after the build, a scenario met the never-analyzed state; later in the step, the analyzed one
  // (docs/benchmarks.md §8, "statistics of the backlog").
  for (const name of [...kinds.map((k) => `bench_tpl_${k.replace("-", "_")}`), "bench_tpl_graphile", "bench_tpl_pgboss"]) {
    await analyzeDatabase(withDatabase(serverPg.serverUrl, name));
  }
  console.log(`workloads built in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  return {
    ungated: "bench_tpl_ungated",
    gated: "bench_tpl_gated",
    "one-rollout": "bench_tpl_one_rollout",
    graphile: "bench_tpl_graphile",
    pgboss: "bench_tpl_pgboss",
  };
}

async function analyzeDatabase(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query("ANALYZE");
  } finally {
    await c.end();
  }
}

/**
 * Runs not finished, counted from each status's own partial index as the metrics gauge does
 * (taskRunsCountActive), so a poll reads what is left (and the dead entries vacuum has not removed yet), as
 * the queues' polls do (their finished jobs leave the table). One count over the three statuses read every
 * run, finished ones included: 7.5 ms a poll (every 50 ms) in a SELECT 1 drain, 5.9 ms now; graphile-worker's
 * poll takes 1.6 ms. The rest is charged to Runway's figure.
 */
const runwayRemaining = (pool: pg.Pool) =>
  count(
    pool,
    `SELECT ((SELECT count(*) FROM task_run WHERE status = 'PENDING') + (SELECT count(*) FROM task_run WHERE status = 'AVAILABLE')
      + (SELECT count(*) FROM task_run WHERE status = 'RUNNING'))::int AS n`,
  );

function jobFn(work: Work, targetPool: pg.Pool): JobFn {
  return work === "noop" ? async () => undefined : async () => void (await targetPool.query("SELECT 1"));
}

async function runScenario(
  serverPg: BenchPg,
  s: Scenario,
  templates: Awaited<ReturnType<typeof buildTemplates>>,
  targetPool: pg.Pool,
): Promise<Row> {
  const t0 = performance.now();
  const row = await prepareAndDrain(serverPg, s, templates, targetPool);
  console.log(`  (scenario took ${((performance.now() - t0) / 1000).toFixed(1)} s in all)`);
  return row;
}

async function prepareAndDrain(
  serverPg: BenchPg,
  s: Scenario,
  templates: Awaited<ReturnType<typeof buildTemplates>>,
  targetPool: pg.Pool,
): Promise<Row> {
  const name = `bench_tp_${s.system.replace(/-/g, "_")}_${s.work}_${s.replicas}`;
  if (s.system === "graphile-worker" || s.system === "pg-boss") {
    const graphile = s.system === "graphile-worker";
    const url = await serverPg.cloneDatabase(name, graphile ? templates.graphile : templates.pgboss);
    const job = jobFn(s.work, targetPool);
    const opts = (ended: () => void) => ({
      url,
      count: s.replicas,
      concurrency: CONCURRENCY,
      task: (i: number) => job(i).finally(ended),
    });
    return graphile
      ? drain(s, url, async (ended) => (await graphileStart(opts(ended))).stop, graphileRemaining)
      : drain(s, url, async (ended) => (await pgBossStart(opts(ended))).stop, pgBossRemaining);
  }
  const kind = s.system === "runway-gated" ? "gated" : s.system === "runway-1-rollout" ? "one-rollout" : "ungated";
  const url = await serverPg.cloneDatabase(name, templates[kind]);
  // A new installation id: the target's ledger is keyed by (installation, task), and every clone has the same tasks.
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`UPDATE installation SET id = gen_random_uuid()`);
  await c.end();
  // One executor per replica, as each server process has its own (pooled target sessions included).
  const executors: Executor[] = Array.from({ length: s.replicas }, () =>
    s.work === "noop" ? new NoopExecutor() : new PostgresExecutor({ statementTimeoutMs: 60_000, poolSize: CONCURRENCY }),
  );
  const passes: PassResult[] = [];
  let lockHeld = 0;
  const row = await drain(
    s,
    url,
    async (ended) => {
      const r = await startReplicas({
        url,
        count: s.replicas,
        concurrency: CONCURRENCY,
        executorFor: (i) => (_t: TaskType) => ({ execute: (run, ctx) => executors[i]!.execute(run, ctx).finally(ended) }),
        onPass: (p) => passes.push(p),
        onLockHeld: () => lockHeld++,
      });
      return async () => {
        await r.stop();
        for (const e of executors) if (e instanceof PostgresExecutor) await e.close();
      };
    },
    runwayRemaining,
  );
  const live = passes.filter((p) => p.kind === "live");
  row.passes = {
    count: passes.length,
    firstMs: Math.round(passes[0]?.durationMs ?? NaN),
    firstPromoted: passes[0]?.promoted ?? 0,
    liveMeanMs: Number((live.reduce((a, p) => a + p.durationMs, 0) / Math.max(1, live.length)).toFixed(1)),
    lockHeld,
  };
  return row;
}

/** Replica counts to run each scenario with (BENCH_THROUGHPUT_REPLICAS=1,2,3,5 for the scaling table). */
const REPLICA_COUNTS = (process.env.BENCH_THROUGHPUT_REPLICAS ?? "1,3").split(",").map(Number);

const SCENARIOS: Scenario[] = [
  ...REPLICA_COUNTS.flatMap(
    (replicas) =>
      [
        { system: "runway", work: "noop", replicas },
        { system: "graphile-worker", work: "noop", replicas },
        { system: "pg-boss", work: "noop", replicas },
        { system: "runway-gated", work: "noop", replicas },
        { system: "runway", work: "select1", replicas },
        { system: "graphile-worker", work: "select1", replicas },
      ] satisfies Scenario[],
  ),
  // Diagnostic, not in the default run (it needs its own 20,000-task workload): BENCH_THROUGHPUT_ONLY=runway-1-rollout.
  ...(process.env.BENCH_THROUGHPUT_ONLY?.includes("runway-1-rollout")
    ? [{ system: "runway-1-rollout", work: "noop", replicas: 1 } satisfies Scenario]
    : []),
];

async function main(): Promise<void> {
  const only = process.env.BENCH_THROUGHPUT_ONLY?.split(",");
  const serverPg = await startBenchPg();
  const targetRole = await serverPg.targetRoleUrl();
  const targetUrl = await serverPg.emptyDatabase(TARGET, new URL(targetRole).username);
  // A pooled connection, as a graphile-worker/pg-boss task would hold one; Runway's executor pools its own per target database.
  const targetPool = new pg.Pool({ connectionString: targetUrl, max: 3 * CONCURRENCY });
  targetPool.on("error", () => undefined);
  const rows: Row[] = [];
  try {
    const templates = await buildTemplates(serverPg, withDatabase(targetRole, TARGET));
    const selected = SCENARIOS.filter((s) => !only || only.some((o) => `${s.system}:${s.work}:${s.replicas}`.startsWith(o)));
    const runs: Row[][] = selected.map(() => []);
    for (let round = 0; round < REPEAT; round++) {
      const order = selected.map((_, i) => (round % 2 === 0 ? i : selected.length - 1 - i));
      if (REPEAT > 1) console.log(`round ${round + 1} of ${REPEAT}`);
      for (const i of order) runs[i]!.push(await runScenario(serverPg, selected[i]!, templates, targetPool));
    }
    for (const [i, s] of selected.entries()) {
      const each = runs[i]!;
      const mean = Math.round(each.reduce((a, r) => a + r.tasksPerSec, 0) / each.length);
      rows.push({
        ...each[0]!,
        ...s,
        tasksPerSec: mean,
        ...(each.length > 1 ? { rounds: each.map(({ system: _s, work: _w, replicas: _r, ...x }) => x) } : {}),
      });
    }
  } finally {
    await targetPool.end();
    await serverPg.stop();
  }
  const find = (system: System, work: Work, replicas: number) =>
    rows.find((r) => r.system === system && r.work === work && r.replicas === replicas)?.tasksPerSec;
  const ratios = REPLICA_COUNTS.map((replicas) => ({
    replicas,
    runwayVsGraphileNoop: ratio(find("runway", "noop", replicas), find("graphile-worker", "noop", replicas)),
    runwayVsPgBossNoop: ratio(find("runway", "noop", replicas), find("pg-boss", "noop", replicas)),
    runwayVsGraphileSelect1: ratio(find("runway", "select1", replicas), find("graphile-worker", "select1", replicas)),
    gatedVsUngated: ratio(find("runway-gated", "noop", replicas), find("runway", "noop", replicas)),
  }));
  console.table(
    rows.map((r) => ({
      system: r.system,
      work: r.work,
      replicas: r.replicas,
      "tasks/s": r.tasksPerSec,
      seconds: r.seconds,
      capped: r.capped,
      "xacts/task": r.xactsPerTask,
      "WAL records/task": r.walPerTask?.records,
    })),
  );
  console.table(ratios);
  const file = await writeResult("throughput", {
    benchmark: "throughput",
    description:
      "Tasks/s draining a queue of trivial tasks queued up front: no-op (scheduler/queue alone) and SELECT 1 on a target database (Runway: its real PostgreSQL executor, pooled target sessions and a ledger transaction per run; the queues: a pooled connection). Replicas run in one process, each with its own pools. Every scenario runs `rounds` times, the order reversed every other round; tasksPerSec is the mean of its rounds.",
    setup: {
      rounds: REPEAT,
      jobs: JOBS,
      concurrencyPerReplica: CONCURRENCY,
      // The database is asked once every task function returned, then every finalPollMs (backstop: backstopPollMs).
      finalPollMs: FINAL_POLL_MS,
      backstopPollMs: BACKSTOP_POLL_MS,
      capS: CAP_S,
      databases: DATABASES,
      rollouts: ROLLOUTS,
      gatedParallelLimit: GATED_LIMIT,
      versionsPerDatabase: JOBS / DATABASES,
    },
    targets: { runwayVsGraphileNoop: 1.0, gatingCostMax: 0.3 },
    machine: await machineInfo(),
    results: rows,
    ratios,
  });
  console.log(`wrote ${file}`);
}

runMain(main);
