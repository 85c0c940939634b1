import os from "node:os";
import { Kysely, PostgresDialect, type LogEvent } from "kysely";
import { rolloutCreate, tasksRun, type DB, type NewTask } from "@runway/server/store";
import { runMain, startBenchPg } from "./lib/pg.js";
import { seedBenchProject, startBenchApi, tenantTasks } from "./lib/api-app.js";

/**
 * Diagnostic outside `pnpm bench` (issue 19, `tasks/run` on 10,000 tasks): the statement `tasksRun` sends
 * for all tasks of a 10,000-task rollout (1,000 databases × 10 versioned files, as bench/create.ts), run
 * under EXPLAIN (ANALYZE, BUFFERS) and rolled back, `RUN_EXPLAIN_REPEAT` times (3): prints each run's
 * planning, execution and per-trigger times, and the last plan. Run it through `node bench/tools/measure.mjs`.
 */
const load1 = () => Number(os.loadavg()[0]!.toFixed(1));
const REPEAT = Number(process.env.RUN_EXPLAIN_REPEAT ?? 3);

const tasksFor = (databases: number, files: number): NewTask[] =>
  tenantTasks(databases, files, (i) => `CREATE TABLE IF NOT EXISTS t_${i} (id bigint PRIMARY KEY);`);

async function main(): Promise<void> {
  const serverPg = await startBenchPg();
  try {
    const url = await serverPg.freshDatabase("bench_run_explain");
    const targetUrl = await serverPg.targetRoleUrl();
    const api = await startBenchApi(url);
    await seedBenchProject(api, targetUrl);
    let log: { sql: string; parameters: readonly unknown[] }[] = [];
    const timed = new Kysely<DB>({
      dialect: new PostgresDialect({ pool: api.pool }),
      log: (e: LogEvent) => {
        if (e.level === "query") log.push({ sql: e.query.sql, parameters: e.query.parameters });
      },
    });
    const now = new Date();
    const rolloutId = await rolloutCreate(
      api.db,
      { projectId: "bench", title: "explain", createdBy: "bench", stages: [{ environment: "prod", tasks: tasksFor(1000, 10) }] },
      now,
    );
    const { rows } = await api.pool.query<{ id: string }>(`SELECT id FROM task WHERE rollout_id = $1 ORDER BY id`, [rolloutId]);
    const taskIds = rows.map((r) => r.id);
    // Capture the statement: run it once in a transaction that is rolled back.
    await timed
      .transaction()
      .execute(async (trx) => {
        log = [];
        await tasksRun(trx, { rolloutId, taskIds, runAt: null, actor: "bench", now });
        throw new Error("rollback");
      })
      .catch((e: Error) => {
        if (e.message !== "rollback") throw e;
      });
    const statement = log.find((q) => /INSERT INTO task_run AS r/.test(q.sql));
    if (!statement) throw new Error(`no run statement among ${log.length} queries`);
    let plan = "";
    for (let i = 0; i < REPEAT; i++) {
      const client = await api.pool.connect();
      try {
        await client.query("BEGIN");
        const t = performance.now();
        const res = await client.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS) ${statement.sql}`, [...statement.parameters]);
        const wall = performance.now() - t;
        await client.query("ROLLBACK");
        plan = res.rows.map((r) => r["QUERY PLAN"]).join("\n");
        const lines = plan.split("\n").filter((l) => /^(Planning Time|Execution Time|Trigger)/.test(l));
        console.log(`run ${i + 1}: wall ${wall.toFixed(0)} ms, load ${load1()}\n  ${lines.join("\n  ")}`);
      } finally {
        client.release();
      }
    }
    console.log(plan);

    // Where one `tasks/run` request of 1,000 ids goes: every query the app sends, timed on the client side.
    const timings: { sql: string; ms: number }[] = [];
    const probe = await api.pool.connect();
    const proto = Object.getPrototypeOf(probe) as { query: (...a: unknown[]) => Promise<unknown> };
    probe.release();
    const query = proto.query;
    proto.query = async function (this: unknown, ...a: unknown[]) {
      const t = performance.now();
      try {
        return await query.apply(this, a);
      } finally {
        const text = typeof a[0] === "string" ? a[0] : ((a[0] as { text?: string; name?: string }).text ?? "?");
        timings.push({ sql: text.replace(/\s+/g, " ").trim().slice(0, 100), ms: performance.now() - t });
      }
    };
    const second = await rolloutCreate(
      api.db,
      { projectId: "bench", title: "requests", createdBy: "bench", stages: [{ environment: "prod", tasks: tasksFor(1000, 10) }] },
      now,
    );
    const ids = (await api.pool.query<{ id: string }>(`SELECT id FROM task WHERE rollout_id = $1 ORDER BY id`, [second])).rows.map(
      (r) => r.id,
    );
    for (let k = 0; k < ids.length; k += 1000) {
      timings.length = 0;
      const r = await api.call("POST", `/rollouts/${second}/tasks/run`, { taskIds: ids.slice(k, k + 1000) });
      const sum = timings.reduce((a, b) => a + b.ms, 0);
      console.log(`request ${k / 1000 + 1}: ${r.ms.toFixed(1)} ms, queries ${sum.toFixed(1)} ms, load ${load1()}`);
      for (const q of timings) console.log(`  ${q.ms.toFixed(1).padStart(7)} ms  ${q.sql}`);
    }
    await api.close();
  } finally {
    await serverPg.stop();
  }
}

runMain(main);
