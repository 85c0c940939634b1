import os from "node:os";
import { Kysely, PostgresDialect, type LogEvent } from "kysely";
import { rolloutCreate, taskRunsClaim, taskRunsFinishAndClaim, tasksRun, type DB, type Db, type NewTask } from "@runway/server/store";
import { median, runMain, startBenchPg } from "./lib/pg.js";
import { seedBenchProject, startBenchApi } from "./lib/api-app.js";

/**
 * Diagnostic outside `pnpm bench` (issue 19, the finish + claim statement's fixed cost): what PostgreSQL
 * spends planning the transition statements the running scheduler and a click on Run send, apart from
 * running them. Each statement is captured as the store sends it (in a transaction rolled back), then
 * `EXPLAIN (SUMMARY)` of it, with its parameters, PLAN_COST_REPEAT times (300): the median planning time
 * PostgreSQL reports, and the median round trip of the EXPLAIN (parse, analysis and planning; nothing runs).
 * Run it through `node bench/tools/measure.mjs`.
 */
const load1 = () => Number(os.loadavg()[0]!.toFixed(1));
const REPEAT = Number(process.env.PLAN_COST_REPEAT ?? 300);

const dataTasks = (instanceId: string, n: number): NewTask[] =>
  Array.from({ length: n }, (_, i) => ({
    type: "DATABASE_DATA_UPDATE" as const,
    instanceId,
    database: `db_${i % 20}`,
    statement: "SELECT 1",
    schemaVersion: null,
  }));

/** The transition statement `fn` sends (the first WITH), with its parameters; nothing it does is kept. */
async function capture(pool: import("pg").Pool, fn: (trx: Db) => Promise<unknown>) {
  let log: { sql: string; parameters: readonly unknown[] }[] = [];
  const timed = new Kysely<DB>({
    dialect: new PostgresDialect({ pool }),
    log: (e: LogEvent) => void (e.level === "query" && log.push({ sql: e.query.sql, parameters: e.query.parameters })),
  });
  await timed
    .transaction()
    .execute(async (trx) => {
      log = [];
      await fn(trx);
      throw new Error("rollback");
    })
    .catch((e: Error) => {
      if (e.message !== "rollback") throw e;
    });
  return log.find((q) => /^\/\* prepared \*\/|WITH/.test(q.sql.trim()))!;
}

async function main(): Promise<void> {
  const serverPg = await startBenchPg();
  try {
    const url = await serverPg.freshDatabase("bench_plan_cost");
    const api = await startBenchApi(url);
    await seedBenchProject(api, await serverPg.targetRoleUrl());
    const now = new Date();
    const rolloutId = await rolloutCreate(
      api.db,
      { projectId: "bench", title: "plan", createdBy: "bench", stages: [{ environment: "prod", tasks: dataTasks("bench-pg", 400) }] },
      now,
    );
    const ids = (await api.pool.query<{ id: string }>(`SELECT id FROM task WHERE rollout_id = $1 ORDER BY id`, [rolloutId])).rows.map(
      (r) => r.id,
    );
    await tasksRun(api.db, { rolloutId, taskIds: ids.slice(0, 300), runAt: null, actor: "bench", now });
    const claimed = await taskRunsClaim(api.db, { replicaId: "plan", limit: 20, leaseTtlMs: 600_000, now });
    await api.pool.query("ANALYZE");
    const finish = (status: "DONE" | "FAILED", k: number) => ({
      runId: claimed[k]!.id,
      replicaId: "plan",
      epoch: claimed[k]!.epoch,
      status,
      result: null,
      message: status === "DONE" ? "ok" : "boom",
    });
    const claim = { replicaId: "plan", limit: 3, leaseTtlMs: 600_000, now };
    const statements = {
      "finish + claim (3 DONE, claim 3)": await capture(api.pool, (trx) =>
        taskRunsFinishAndClaim(trx, [finish("DONE", 0), finish("DONE", 1), finish("DONE", 2)], { now, claim }),
      ),
      "finish + claim (2 DONE, 1 FAILED, claim 3)": await capture(api.pool, (trx) =>
        taskRunsFinishAndClaim(trx, [finish("DONE", 0), finish("DONE", 1), finish("FAILED", 2)], { now, claim }),
      ),
      "claim 3": await capture(api.pool, (trx) => taskRunsClaim(trx, claim)),
      "tasks/run, 1 task": await capture(api.pool, (trx) =>
        tasksRun(trx, { rolloutId, taskIds: [ids[350]!], runAt: null, actor: "bench", now }),
      ),
    };
    const plans: Record<string, number[]> = {};
    const trips: Record<string, number[]> = {};
    const client = await api.pool.connect();
    try {
      // Interleaved, so a burst of load hits every statement alike.
      for (let i = 0; i < REPEAT; i++) {
        for (const [name, q] of Object.entries(statements)) {
          const t = performance.now();
          const { rows } = await client.query<{ "QUERY PLAN": string }>(`EXPLAIN (SUMMARY) ${q.sql}`, [...q.parameters]);
          (trips[name] ??= []).push(performance.now() - t);
          const plan = rows.map((r) => r["QUERY PLAN"]).join("\n");
          (plans[name] ??= []).push(Number(/Planning Time: ([\d.]+) ms/.exec(plan)?.[1] ?? NaN));
        }
      }
    } finally {
      client.release();
    }
    console.log(`planning, median of ${REPEAT} (load ${load1()}):`);
    for (const name of Object.keys(statements)) {
      const text = statements[name as keyof typeof statements].sql;
      console.log(
        `  ${name.padEnd(44)} plan ${median(plans[name]!).toFixed(3)} ms, EXPLAIN round trip ${median(trips[name]!).toFixed(3)} ms, ${text.length} chars, ${(text.match(/ AS \(/g) ?? []).length} CTEs`,
      );
    }
    await api.close();
  } finally {
    await serverPg.stop();
  }
}

runMain(main);
