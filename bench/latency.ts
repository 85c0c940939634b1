import { createDb, createPool, tasksRunAndClaim } from "@runway/server/store";
import { graphileStart, graphileUtils } from "./lib/queues.js";
import { machineInfo, startBenchPg, writeResult, type BenchPg, runMain } from "./lib/pg.js";
import { NoopExecutor, startReplicas } from "./lib/replicas.js";
import { ratio, sleep, summarize, until } from "./lib/stats.js";
import { createWorkload, dataTask } from "./lib/workload.js";

/**
 * `pnpm bench` step 2, pickup latency on an idle system: runs are created one after another, each with
 * nothing blocking it, and we time creation (before the create call) → the executor being handed the run
 * (right after it became RUNNING). A data update that no gate can hold is created RUNNING by the create
 * itself when the replica has a free slot (RunningScheduler.create, as POST …/tasks/run does); a schema change
 * crosses PENDING → AVAILABLE → RUNNING, two NOTIFY hops; graphile-worker's add_job → task start is one.
 * Same PostgreSQL, same process.
 *
 * The three systems are started together and take turns in blocks (BLOCKS of them, the order rotating),
 * so a change in the machine's speed during the step (this shared machine's throughput moved by 40%
 * within minutes, docs/benchmarks.md §8) falls on all three alike instead of on whichever ran then.
 */

const N = Number(process.env.BENCH_LATENCY_RUNS ?? 1000);
const BLOCKS = Math.max(1, Math.min(N, Number(process.env.BENCH_LATENCY_BLOCKS ?? 10)));
const CONCURRENCY = 10;
/** Quiet time after each run finished, so the next one arrives on an idle system. */
const GAP_MS = 10;
const TIMEOUT_MS = 10_000;

interface Sample {
  totalMs: number;
  /** The create call itself (transaction included). */
  createMs: number;
  /** Create call start → promoted to AVAILABLE (wall clock, ms resolution). */
  toAvailableMs: number;
  /** AVAILABLE (or created RUNNING: the create's time) → handed to the executor (wall clock, ms resolution). */
  availableToStartMs: number;
}

/** One system under test: `runOne` creates the next run and waits until it started and ended. */
interface System {
  runOne(): Promise<Sample>;
  close(): Promise<void>;
}

/** Durations of the gated scenario's passes that promoted a run (where the pass's own share of a pickup shows). */
const promotingPassMs: number[] = [];

/**
 * `gated: false`: data updates in a project without a limit — no gate can hold them, so the create makes
 * them RUNNING for the idle replica (AVAILABLE if it had no free slot). `gated: true`: sequential schema changes, each on its own idle database, which go
 * through the pending scheduler (PENDING → pass → AVAILABLE) even though nothing holds them.
 */
async function ours(serverPg: BenchPg, gated: boolean): Promise<System> {
  const url = await serverPg.freshDatabase(gated ? "bench_latency_gated" : "bench_latency");
  const db = createDb(createPool(url, 4, "bench creator"));
  const w = await createWorkload(db, {
    parallelLimit: 0,
    connectionUrl: "postgres://nobody@127.0.0.1:1/none",
    rollouts: [
      Array.from({ length: N }, (_, i) =>
        gated ? { ...dataTask(`db_${i}`), type: "DATABASE_SCHEMA_UPDATE" as const } : dataTask(`db_${i}`),
      ),
    ],
  });
  const rollout = w.rollouts[0]!;
  const started = new Map<string, { at: number; wall: number; availableAt: number }>();
  let passes = 0;
  const replicas = await startReplicas({
    url,
    count: 1,
    concurrency: CONCURRENCY,
    executorFor: () => () =>
      new NoopExecutor((run) =>
        started.set(run.taskId, { at: performance.now(), wall: Date.now(), availableAt: run.availableAt.getTime() }),
      ),
    onPass: (r) => {
      passes++;
      if (gated && r.promoted > 0) promotingPassMs.push(r.durationMs);
    },
  });
  const running = replicas.runtimes[0]!.running;
  await until(() => passes > 0, TIMEOUT_MS);
  let next = 0;
  return {
    async runOne() {
      const taskId = rollout.taskIds[next++]!;
      const wall0 = Date.now();
      const t0 = performance.now();
      // What POST …/tasks/run does (routes/api/v1/tasks.ts): the create, through the replica's running
      // scheduler, which may claim the new run in the same statement when it has a free slot.
      await running.create((claim) =>
        tasksRunAndClaim(db, { rolloutId: rollout.id, taskIds: [taskId], runAt: null, actor: "bench", now: new Date(), claim }),
      );
      const createMs = performance.now() - t0;
      if (!(await until(() => started.has(taskId), TIMEOUT_MS)))
        throw new Error(`run of task ${taskId} did not start within ${TIMEOUT_MS} ms`);
      const s = started.get(taskId)!;
      await until(() => running.activeCount === 0, TIMEOUT_MS);
      return { totalMs: s.at - t0, createMs, toAvailableMs: s.availableAt - wall0, availableToStartMs: s.wall - s.availableAt };
    },
    async close() {
      await replicas.stop();
      await db.destroy();
    },
  };
}

async function graphile(serverPg: BenchPg): Promise<System> {
  const url = await serverPg.emptyDatabase("bench_latency_graphile");
  const started = new Map<number, number>();
  const done = new Set<number>();
  const worker = await graphileStart({
    url,
    count: 1,
    concurrency: CONCURRENCY,
    task: async (i) => void started.set(i, performance.now()),
  });
  worker.runners[0]!.events.on("job:complete", ({ job }) => done.add((job.payload as { i: number }).i));
  const utils = await graphileUtils(url);
  let i = 0;
  return {
    async runOne() {
      const id = ++i;
      const t0 = performance.now();
      await utils.addJob("bench", { i: id });
      const createMs = performance.now() - t0;
      if (!(await until(() => started.has(id), TIMEOUT_MS))) throw new Error(`graphile job ${id} did not start within ${TIMEOUT_MS} ms`);
      const totalMs = started.get(id)! - t0;
      await until(() => done.has(id), TIMEOUT_MS);
      return { totalMs, createMs, toAvailableMs: NaN, availableToStartMs: NaN };
    },
    async close() {
      await utils.release();
      await worker.stop();
    },
  };
}

async function main(): Promise<void> {
  const serverPg = await startBenchPg();
  const samples: Sample[][] = [[], [], []];
  try {
    console.log(
      `pickup latency: ${N} runs each, ours (no gate can hold them; through the pending scheduler) and graphile-worker, in ${BLOCKS} blocks`,
    );
    const systems: System[] = [];
    try {
      systems.push(await ours(serverPg, false), await ours(serverPg, true), await graphile(serverPg));
      for (let b = 0; b < BLOCKS; b++) {
        const size = Math.floor((N * (b + 1)) / BLOCKS) - Math.floor((N * b) / BLOCKS);
        for (let k = 0; k < systems.length; k++) {
          const which = (b + k) % systems.length;
          for (let j = 0; j < size; j++) {
            samples[which]!.push(await systems[which]!.runOne());
            await sleep(GAP_MS);
          }
        }
      }
    } finally {
      for (const s of systems) await s.close();
    }
  } finally {
    await serverPg.stop();
  }
  const [o, og, g] = samples as [Sample[], Sample[], Sample[]];
  const os = summarize(o.map((s) => s.totalMs));
  const ogs = summarize(og.map((s) => s.totalMs));
  const gs = summarize(g.map((s) => s.totalMs));
  const rows = [
    { system: "Runway (tasksRun → RUNNING)", ...os },
    { system: "Runway via pending pass", ...ogs },
    { system: "graphile-worker (addJob → task start)", ...gs },
    {
      system: "ratio Runway ÷ graphile-worker",
      n: os.n,
      p50: ratio(os.p50, gs.p50),
      p95: ratio(os.p95, gs.p95),
      p99: ratio(os.p99, gs.p99),
      max: ratio(os.max, gs.max),
      mean: ratio(os.mean, gs.mean),
    },
    {
      system: "ratio via pending pass ÷ graphile-worker",
      n: ogs.n,
      p50: ratio(ogs.p50, gs.p50),
      p95: ratio(ogs.p95, gs.p95),
      p99: ratio(ogs.p99, gs.p99),
      max: ratio(ogs.max, gs.max),
      mean: ratio(ogs.mean, gs.mean),
    },
  ];
  console.table(rows);
  const breakdown = {
    createCall: summarize(o.map((s) => s.createMs)),
    createToAvailable: summarize(o.map((s) => s.toAvailableMs)),
    availableToStart: summarize(o.map((s) => s.availableToStartMs)),
    gatedCreateCall: summarize(og.map((s) => s.createMs)),
    gatedCreateToAvailable: summarize(og.map((s) => s.toAvailableMs)),
    gatedAvailableToStart: summarize(og.map((s) => s.availableToStartMs)),
    gatedPromotingPass: summarize(promotingPassMs),
    graphileAddJobCall: summarize(g.map((s) => s.createMs)),
  };
  console.table(Object.entries(breakdown).map(([k, v]) => ({ part: k, ...v })));
  const file = await writeResult("latency", {
    benchmark: "latency",
    description:
      "Pickup latency on an idle system: N runs created one after another, each unblocked; creation (before the create call) → the executor/task handed the run. Milliseconds. Ours twice: runs no gate can hold (created AVAILABLE) and sequential changes on idle databases (through a pending pass). The three systems run side by side and take turns in blocks, so drift in the machine's speed falls on all alike.",
    setup: { runs: N, blocks: BLOCKS, concurrency: CONCURRENCY, gapMs: GAP_MS, ourPollIntervalMs: 1000, graphilePollIntervalMs: 2000 },
    targets: { p50Ms: 10, p99Ms: 50, maxRatioVsGraphile: 1.5 },
    machine: await machineInfo(),
    results: { ours: os, oursGated: ogs, graphile: gs, ratio: rows[3], ratioGated: rows[4], breakdown },
  });
  console.log(`wrote ${file}`);
}

runMain(main);
