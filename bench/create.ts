import os from "node:os";
import { Kysely, PostgresDialect, type LogEvent } from "kysely";
import { rolloutCreate, type DB, type NewTask } from "@runway/server/store";
import { ID_LIST_MAX } from "@runway/shared/schemas";
import { machineInfo, median, runMain, startBenchPg, writeResult } from "./lib/pg.js";
import { seedBenchProject, startBenchApi, tenantTasks } from "./lib/api-app.js";

/**
 * `pnpm bench` step "create" (issue 19 "creating large rollouts", issue 16's create of 50,000 tasks):
 * - `POST /projects/:id/rollouts` with 10,000 tasks (1,000 databases × 10 versioned files, the shape of a
 *   release) and `POST /rollouts/:id/tasks/run` on all of them (1,000 ids per request, the API's bound), through
 *   a real listening HTTP server (fetch over a socket, JSON both ways, auth, audit, lint); and the one-request
 *   way to run them all, `POST /rollouts/:id/tasks/bulk {action: "run", filter: {}}`. Targets: each ≤ 1 s.
 * - Where the time of `rolloutCreate` goes, per statement, at 10,000 and 50,000 tasks; and the task
 *   INSERT of the 50,000 again under EXPLAIN ANALYZE (rolled back) for its per-trigger times.
 * No scheduler runs: the runs stay PENDING, only creating them is measured.
 */
const load1 = () => Number(os.loadavg()[0]!.toFixed(1));
const REPEAT = Number(process.env.BENCH_CREATE_REPEAT ?? 3);
const TARGET_MS = 1000;
const DATABASES = 1000;
const FILES = 10;

const tasksFor = (databases: number, files: number): NewTask[] =>
  tenantTasks(
    databases,
    files,
    (i) =>
      `CREATE TABLE IF NOT EXISTS t_${i} (id bigint PRIMARY KEY, payload text);\nCREATE INDEX IF NOT EXISTS t_${i}_payload ON t_${i} (payload);`,
  );

async function main(): Promise<void> {
  const serverPg = await startBenchPg();
  try {
    const url = await serverPg.freshDatabase("bench_create");
    const targetUrl = await serverPg.targetRoleUrl();
    const api = await startBenchApi(url, { listen: true });
    await seedBenchProject(api, targetUrl);
    const tasks = tasksFor(DATABASES, FILES);
    const loads: Record<string, number[]> = { create: [], run: [], bulk: [] };
    const creates: number[] = [];
    const runs: number[] = [];
    const bulks: number[] = [];
    const runRequests: number[][] = [];
    let createBytes = 0;
    for (let i = 0; i < REPEAT; i++) {
      const c = await api.call("POST", "/projects/bench/rollouts", { title: `bench ${i + 1}`, stages: [{ environment: "prod", tasks }] });
      creates.push(c.ms);
      createBytes = JSON.stringify({ stages: [{ tasks }] }).length;
      loads.create!.push(load1());
      const rolloutId = c.body.id as string;
      const { rows } = await api.pool.query<{ id: string }>(`SELECT id FROM task WHERE rollout_id = $1 ORDER BY id`, [rolloutId]);
      if (rows.length !== tasks.length) throw new Error(`rollout ${rolloutId} has ${rows.length} tasks`);
      // As many ids per request as the API takes (ID_LIST_MAX); the figure is all of them, request after request.
      const ids = rows.map((r) => r.id);
      const perRequest: number[] = [];
      const t = performance.now();
      for (let k = 0; k < ids.length; k += ID_LIST_MAX) {
        const r = await api.call("POST", `/rollouts/${rolloutId}/tasks/run`, { taskIds: ids.slice(k, k + ID_LIST_MAX) });
        perRequest.push(Math.round(r.ms));
        if ((r.body.results as { outcome: string }[]).some((x) => x.outcome !== "CREATED")) throw new Error("a run was not created");
      }
      runs.push(performance.now() - t);
      runRequests.push(perRequest);
      loads.run!.push(load1());
      // The other way to run every task in one request: the bulk action on a filter (here: all of them).
      const other = await api.call("POST", "/projects/bench/rollouts", {
        title: `bench bulk ${i + 1}`,
        stages: [{ environment: "prod", tasks }],
      });
      const b = await api.call("POST", `/rollouts/${other.body.id}/tasks/bulk`, { action: "run", filter: {} });
      if (b.body.counts.CHANGED !== tasks.length) throw new Error(`bulk run changed ${JSON.stringify(b.body.counts)}`);
      bulks.push(b.ms);
      loads.bulk!.push(load1());
      console.log(
        `rollout ${rolloutId}: create ${c.ms.toFixed(0)} ms, run ${runs.at(-1)!.toFixed(0)} ms in ${perRequest.length} requests; bulk run of all ${b.ms.toFixed(0)} ms; load ${load1()}`,
      );
    }

    // Per statement: a Kysely of its own over the same pool, logging each query's duration.
    let log: { sql: string; ms: number; parameters: readonly unknown[] }[] = [];
    const timed = new Kysely<DB>({
      dialect: new PostgresDialect({ pool: api.pool }),
      log: (e: LogEvent) => {
        if (e.level === "query")
          log.push({ sql: e.query.sql.replace(/\s+/g, " ").trim(), ms: e.queryDurationMillis, parameters: e.query.parameters });
      },
    });
    const breakdown: { tasks: number; totalMs: number; statements: { sql: string; ms: number }[]; load: number }[] = [];
    let explain = "";
    for (const [databases, files] of [
      [DATABASES, FILES],
      [1000, 50],
    ] as const) {
      const many = tasksFor(databases, files);
      log = [];
      const t = performance.now();
      await rolloutCreate(
        timed,
        { projectId: "bench", title: `breakdown ${many.length}`, createdBy: "bench", stages: [{ environment: "prod", tasks: many }] },
        new Date(),
      );
      const totalMs = performance.now() - t;
      breakdown.push({
        tasks: many.length,
        totalMs: Math.round(totalMs),
        statements: log.map((q) => ({ sql: q.sql.slice(0, 120), ms: Math.round(q.ms * 10) / 10 })),
        load: load1(),
      });
      console.log(`rolloutCreate ${many.length} tasks: ${totalMs.toFixed(0)} ms`);
      for (const q of log) console.log(`  ${q.ms.toFixed(1).padStart(9)} ms  ${q.sql.slice(0, 110)}`);
      if (many.length === 50_000) {
        const insert = log.find((q) => /INSERT INTO task \(/.test(q.sql));
        if (insert) {
          const client = await api.pool.connect();
          try {
            await client.query("BEGIN");
            const { rows } = await client.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS) ${insert.sql}`, [
              ...insert.parameters,
            ]);
            explain = rows.map((r) => r["QUERY PLAN"]).join("\n");
            await client.query("ROLLBACK");
          } finally {
            client.release();
          }
          console.log(explain);
        }
      }
    }
    await api.close();

    const result = {
      benchmark: "create",
      description: `POST /rollouts with ${tasks.length} tasks (${DATABASES} databases × ${FILES} versioned files) and tasks/run on all of them, through a listening HTTP server`,
      tasks: tasks.length,
      createBodyBytes: createBytes,
      createMs: { runs: creates.map(Math.round), median: Math.round(median(creates)), target: TARGET_MS },
      runMs: {
        runs: runs.map(Math.round),
        median: Math.round(median(runs)),
        target: TARGET_MS,
        idsPerRequest: ID_LIST_MAX,
        perRequest: runRequests,
      },
      bulkRunMs: { runs: bulks.map(Math.round), median: Math.round(median(bulks)), target: TARGET_MS },
      met: { create: median(creates) <= TARGET_MS, run: median(runs) <= TARGET_MS, bulkRun: median(bulks) <= TARGET_MS },
      loadAverage1m: loads,
      rolloutCreateBreakdown: breakdown,
      insert50kExplain: explain,
      machine: await machineInfo(),
    };
    console.table([
      { step: `POST /rollouts (${tasks.length} tasks), median of ${REPEAT}`, ms: result.createMs.median, target: `≤ ${TARGET_MS}` },
      {
        step: `tasks/run on all ${tasks.length} (${ID_LIST_MAX} per request), median of ${REPEAT}`,
        ms: result.runMs.median,
        target: `≤ ${TARGET_MS}`,
      },
      {
        step: `tasks/bulk run, filter {} (all ${tasks.length}), median of ${REPEAT}`,
        ms: result.bulkRunMs.median,
        target: `≤ ${TARGET_MS}`,
      },
      ...breakdown.map((b) => ({ step: `rolloutCreate alone, ${b.tasks} tasks`, ms: b.totalMs, target: "" })),
    ]);
    console.log(`wrote ${await writeResult("create", result)}`);
  } finally {
    await serverPg.stop();
  }
}

runMain(main);
