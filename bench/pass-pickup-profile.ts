import { Kysely, PostgresDialect } from "kysely";
import { PendingScheduler } from "@runway/server/scheduler";
import { createPool, type DB, taskRunFinish, taskRunsClaim, tasksRun } from "@runway/server/store";
import { runMain, startBenchPg } from "./lib/pg.js";
import { summarize } from "./lib/stats.js";
import { createWorkload, dataTask } from "./lib/workload.js";

/**
 * `tsx pass-pickup-profile.ts`: the pending pass on the pickup path of bench/latency.ts (one sequential
 * change on an idle database, nothing else pending), statement by statement. Each round: create the run,
 * one pass (which promotes it), claim and finish it, one pass (the finish's changes). Prints the median
 * time of each statement of the promoting passes (client side: round trip included). Diagnostic.
 */
const N = Number(process.env.BENCH_PICKUP_RUNS ?? 200);
const REPLICA = "bench";

async function main(): Promise<void> {
  const serverPg = await startBenchPg();
  try {
    const url = await serverPg.freshDatabase("bench_pass_pickup");
    // BENCH_PICKUP_PLAN_MODE=force_custom_plan|force_generic_plan: to compare the prepared statements' plans.
    const mode = process.env.BENCH_PICKUP_PLAN_MODE;
    const pool = createPool(mode ? `${url}?options=${encodeURIComponent(`-c plan_cache_mode=${mode}`)}` : url, 4, "bench pickup profile");
    let captured: { sql: string; ms: number; parameters: readonly unknown[] }[] = [];
    const db = new Kysely<DB>({
      dialect: new PostgresDialect({ pool }),
      log: (e) =>
        void (e.level === "query" && captured.push({ sql: e.query.sql, ms: e.queryDurationMillis, parameters: e.query.parameters })),
    });
    const w = await createWorkload(db, {
      parallelLimit: 0,
      connectionUrl: "postgres://nobody@127.0.0.1:1/none",
      rollouts: [Array.from({ length: N }, (_, i) => ({ ...dataTask(`db_${i}`), type: "DATABASE_SCHEMA_UPDATE" as const }))],
    });
    const rollout = w.rollouts[0]!;
    const scheduler = new PendingScheduler({ db, clock: { now: () => new Date() }, replicaId: REPLICA, fullPassIntervalMs: 86_400_000 });
    await scheduler.runOnce({ full: true });
    const byStatement = new Map<string, number[]>();
    const passMs: number[] = [];
    let last: typeof captured = [];
    for (const taskId of rollout.taskIds) {
      await tasksRun(db, { rolloutId: rollout.id, taskIds: [taskId], runAt: null, actor: "bench", now: new Date() });
      captured = [];
      const t0 = performance.now();
      const r = await scheduler.runOnce();
      passMs.push(performance.now() - t0);
      last = captured;
      if (r?.promoted !== 1) throw new Error(`expected one promotion, got ${JSON.stringify(r)}`);
      captured.forEach((q, i) => {
        const key = `${String(i).padStart(2)} ${q.sql.trim().replace(/\s+/g, " ").slice(0, 100)}`;
        byStatement.set(key, [...(byStatement.get(key) ?? []), q.ms]);
      });
      const [run] = await taskRunsClaim(db, { replicaId: REPLICA, limit: 1, leaseTtlMs: 60_000, now: new Date() });
      await taskRunFinish(db, {
        runId: run!.id,
        replicaId: REPLICA,
        epoch: run!.epoch,
        status: "DONE",
        result: {},
        message: "",
        now: new Date(),
      });
      await scheduler.runOnce();
    }
    const s = summarize(passMs);
    console.log(`promoting pass: p50 ${s.p50} ms, p95 ${s.p95} ms (n ${s.n}); median per statement (ms, client side), calls:`);
    for (const [k, v] of byStatement) console.log(`${summarize(v).p50.toFixed(2).padStart(7)} ${String(v.length).padStart(5)}  ${k}`);
    if (process.env.BENCH_PICKUP_EXPLAIN) {
      // The last promoting pass's statements explained (ANALYZE runs them: in a transaction rolled back).
      const c = await pool.connect();
      try {
        for (const q of last) {
          if (/^\s*(begin|commit)/i.test(q.sql)) continue;
          await c.query("BEGIN");
          const generic = process.env.BENCH_PICKUP_EXPLAIN === "generic";
          const { rows } = await c.query<{ "QUERY PLAN": string }>(
            `EXPLAIN (${generic ? "GENERIC_PLAN" : "ANALYZE, BUFFERS"}) ${q.sql}`,
            generic ? [] : [...q.parameters],
          );
          console.log(`\n${q.sql.trim().replace(/\s+/g, " ").slice(0, 100)}\n${rows.map((r) => r["QUERY PLAN"]).join("\n")}`);
          await c.query("ROLLBACK");
        }
      } finally {
        c.release();
      }
    }
    await db.destroy();
  } finally {
    await serverPg.stop();
  }
}

runMain(main);
