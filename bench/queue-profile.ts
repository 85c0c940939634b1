import pg from "pg";
import { withDatabase } from "@runway/server/db";
import { graphileEnqueue, graphileRemaining, graphileStart } from "./lib/queues.js";
import { printStatements, startCpuMeter, startProfilePg } from "./lib/profile.js";
import { sleep } from "./lib/stats.js";

/**
 * A diagnostic, not a step of `pnpm bench`: executor-profile.ts's measure of a drain, of graphile-worker's. Drains
 * PROFILE_JOBS jobs (no-op, or SELECT 1 on a pooled connection to a target database, as throughput.ts gives it)
 * with PROFILE_REPLICAS runners of 10 slots in this process, then prints the same lines as executor-profile.ts:
 * the rate, the event loop's and the machine's busy share, the CPU PostgreSQL's processes and Node used per job,
 * and the statements by server time. Read side by side with executor-profile.ts's figures of the same hour, it
 * says where a Runway run costs more than a graphile-worker job (issue 19, docs/benchmarks.md §8):
 *
 *     PROFILE_WORK=select1 node --import tsx queue-profile.ts
 *
 * PROFILE_CPU=<file> writes Node's CPU profile of the drain (summed by `node tools/cpu-summary.mjs <file>`).
 */
const JOBS = Number(process.env.PROFILE_JOBS ?? 5000);
const REPLICAS = Number(process.env.PROFILE_REPLICAS ?? 1);
const WORK = (process.env.PROFILE_WORK ?? "noop") as "noop" | "select1";
const CONCURRENCY = 10;

async function main(): Promise<void> {
  const server = await startProfilePg();
  const { admin } = server;
  try {
    await admin.query("CREATE DATABASE bench_queue");
    await admin.query("CREATE DATABASE bench_queue_target");
    const url = withDatabase(server.url, "bench_queue");
    await graphileEnqueue(url, JOBS);
    const probe = new pg.Client({ connectionString: url });
    await probe.connect();
    await probe.query("ANALYZE");
    await admin.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    // As throughput.ts: the jobs share one pool to the target, as a worker's task would hold a connection.
    const targetPool = new pg.Pool({ connectionString: withDatabase(server.url, "bench_queue_target"), max: 3 * CONCURRENCY });
    targetPool.on("error", () => undefined);
    const task = WORK === "noop" ? async () => undefined : async () => void (await targetPool.query("SELECT 1"));
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    pool.on("error", () => undefined);
    await admin.query("SELECT pg_stat_statements_reset()");
    const meter = await startCpuMeter(probe, process.env.PROFILE_CPU);
    const t0 = performance.now();
    const runners = await graphileStart({ url, count: REPLICAS, concurrency: CONCURRENCY, task });
    let left = JOBS;
    while (left > 0 && performance.now() - t0 < 60_000) {
      await sleep(50);
      left = await graphileRemaining(pool);
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpuLines = await meter.stop(JOBS - left, seconds);
    await runners.stop();
    await Promise.all([pool.end(), targetPool.end(), probe.end()]);
    console.log(
      `graphile-worker ${WORK} ×${REPLICAS}: ${JOBS - left}/${JOBS} in ${seconds.toFixed(2)} s → ${Math.round((JOBS - left) / seconds)}/s`,
    );
    for (const line of cpuLines) console.log(line.replace("per run", "per job"));
    await printStatements(admin, "bench_queue%", seconds, 12);
  } finally {
    await server.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
