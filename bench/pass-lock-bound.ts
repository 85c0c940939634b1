import { sql } from "kysely";
import type { TaskType } from "@runway/shared";
import { createDb, createPool, type NewTask } from "@runway/server/store";
import type { Executor } from "@runway/server/executors";
import { machineInfo, median, runMain, startBenchPg, writeResult } from "./lib/pg.js";
import { NoopExecutor, startReplicas } from "./lib/replicas.js";
import { activeRuns, chainTask, createWorkload, dataTask, runAll } from "./lib/workload.js";
import { ReturnCounter } from "./lib/returns.js";

/**
 * `tsx pass-lock-bound.ts`: what a partitioned pass lock could win in throughput.ts's gated scenario with 3
 * replicas (issue 19 asks for one if the one pass lock is the limit). Three arms on one PostgreSQL, every
 * one 3 replicas in this process draining the same 20,000 runs (100 rollouts of 10 databases):
 * - **gated, one control database**: production, passes take turns under the pass lock;
 * - **gated, split**: the rollouts dealt over three control databases, one replica on each, so the three
 *   replicas' passes never wait for one another (nor share a table or an index page): the bound of any
 *   partitioning of the lock, however fine;
 * - **ungated, one control database**: what the gating cost divides by.
 * Rounds alternate the arms' order. Diagnostic, not in `pnpm bench`; writes bench/results/pass-lock-bound.json.
 */
const JOBS = 20_000;
const ROLLOUTS = 100;
const DATABASES = 1000;
const REPLICAS = 3;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = 10;
type Arm = "gated-shared" | "gated-split" | "ungated-shared";
const ARMS: Arm[] = ["gated-shared", "gated-split", "ungated-shared"];

async function main(): Promise<void> {
  const serverPg = await startBenchPg();
  try {
    const perRollout = JOBS / ROLLOUTS;
    const build = async (name: string, rollouts: number[], gated: boolean): Promise<string> => {
      const url = await serverPg.freshDatabase(name);
      const db = createDb(createPool(url, 2, "bench setup"));
      const tasks = (r: number): NewTask[] =>
        Array.from({ length: perRollout }, (_, k) => (gated ? chainTask(r, k, DATABASES / ROLLOUTS) : dataTask(`db_${r}`)));
      const w = await createWorkload(db, {
        parallelLimit: gated ? 10 : 0,
        connectionUrl: "postgres://nobody@127.0.0.1:1/none",
        rollouts: rollouts.map(tasks),
      });
      await runAll(db, w);
      await sql`ANALYZE`.execute(db);
      await db.destroy();
      return url;
    };
    const all = Array.from({ length: ROLLOUTS }, (_, r) => r);
    const results: Record<Arm, number[]> = { "gated-shared": [], "gated-split": [], "ungated-shared": [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const arm of round % 2 ? [...ARMS].reverse() : ARMS) {
        const urls =
          arm === "gated-split"
            ? await Promise.all(
                Array.from({ length: REPLICAS }, (_, p) =>
                  build(
                    `bench_bound_split_${p}`,
                    all.filter((r) => r % REPLICAS === p),
                    true,
                  ),
                ),
              )
            : [await build(`bench_bound_${arm.replace("-", "_")}`, all, arm === "gated-shared")];
        const perSec = await drain(urls, REPLICAS / urls.length);
        results[arm].push(perSec);
        console.log(`round ${round + 1}, ${arm}: ${perSec} runs/s`);
      }
    }
    const med = (a: Arm) => median(results[a]);
    console.log("\n| arm | runs/s (median; rounds) | gating cost (1 − gated ÷ ungated) |");
    console.log("| --- | --- | --- |");
    for (const a of ARMS) {
      const cost = a === "ungated-shared" ? "—" : `${Math.round(100 * (1 - med(a) / med("ungated-shared")))}%`;
      console.log(`| ${a} | ${med(a)} (${results[a].join(", ")}) | ${cost} |`);
    }
    const file = await writeResult("pass-lock-bound", {
      benchmark: "pass-lock-bound",
      description:
        "Gated throughput with 3 replicas when their passes take turns (one control database) against passes that never wait for one another (the rollouts dealt over 3 control databases, one replica each), and ungated with 3 replicas; runs/s per round and the median.",
      setup: {
        jobs: JOBS,
        rollouts: ROLLOUTS,
        databases: DATABASES,
        replicas: REPLICAS,
        concurrencyPerReplica: CONCURRENCY,
        rounds: ROUNDS,
      },
      machine: await machineInfo(),
      results: Object.fromEntries(ARMS.map((a) => [a, { median: med(a), rounds: results[a] }])),
    });
    console.log(`written to ${file}`);
  } finally {
    await serverPg.stop();
  }
}

/**
 * Starts `perUrl` replicas on each control database and waits until every run there has ended: counted in
 * this process from the executor's returns, then confirmed by the databases (ReturnCounter, as throughput.ts).
 */
async function drain(urls: string[], perUrl: number): Promise<number> {
  const exec = new NoopExecutor();
  const returns = new ReturnCounter(JOBS, { backstopMs: 1000, finalMs: 2 });
  const counting: Executor = { execute: (run, ctx) => exec.execute(run, ctx).finally(returns.ended) };
  const probes = urls.map((u) => createDb(createPool(u, 1, "bench probe")));
  const t0 = performance.now();
  const reps = await Promise.all(
    urls.map((url) => startReplicas({ url, count: perUrl, concurrency: CONCURRENCY, executorFor: () => (_t: TaskType) => counting })),
  );
  const capAt = t0 + 120_000;
  let left = JOBS;
  while (left > 0 && performance.now() < capAt) {
    await returns.untilNextPoll(capAt);
    left = 0;
    for (const p of probes) left += await activeRuns(p);
  }
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(reps.map((r) => r.stop()));
  await Promise.all(probes.map((p) => p.destroy()));
  if (left > 0) throw new Error(`${left} runs left after 120 s`);
  return Math.round(JOBS / seconds);
}

runMain(main);
