import { Kysely, PostgresDialect } from "kysely";
import { buildApp, generateKey, hashPassword, loadConfig, Metrics, newApiToken, sha256, startTrust } from "@runway/server";
import { createPool, type DB, tokenCreate, userCreate } from "@runway/server/store";
import { PendingScheduler } from "@runway/server/scheduler";
import { seedHistory } from "./lib/history-seed.js";
import { explainAll, type Captured, type Explained } from "./lib/explain.js";
import { machineInfo, startBenchPg, writeResult, runMain, BENCH_CONTROL_BOUNDS } from "./lib/pg.js";
import { summarize, type Summary } from "./lib/stats.js";

/**
 * `pnpm bench` step 4, the store at scale: ~1,000,000 finished runs in history, then the dashboard's hot
 * reads through the real HTTP API (buildApp + inject, bearer token): a rollout's tasks filtered by status,
 * and status counts. Every SELECT those requests (and one pending-scheduler pass of each kind) issue is
 * run again under EXPLAIN ANALYZE, and sequential scans of big tables are flagged.
 */

const ROLLOUTS = Number(process.env.BENCH_HISTORY_ROLLOUTS ?? 800);
const TASKS_PER_ROLLOUT = 1000;
const BIG_ROLLOUT = 10_000;
const WARMUP = 20;
const REQUESTS = Number(process.env.BENCH_API_REQUESTS ?? 200);

interface Endpoint {
  name: string;
  url: string;
  latency?: Summary;
  queries?: Explained[];
}

async function main(): Promise<void> {
  const serverPg = await startBenchPg();
  try {
    const url = await serverPg.freshDatabase("bench_history");
    const t0 = performance.now();
    const seeded = await seedHistory(url, { rollouts: ROLLOUTS, tasksPerRollout: TASKS_PER_ROLLOUT, bigRollout: BIG_ROLLOUT });
    const seedS = (performance.now() - t0) / 1000;
    console.log(`seeded ${seeded.tasks} tasks, ${seeded.runs} finished runs in ${seedS.toFixed(0)} s`);

    // Runway's own pool (its client sends the pending pass's marked statements), with the bench's long bounds.
    const pool = createPool(url, 10, "bench store-scale", BENCH_CONTROL_BOUNDS);
    let capture: Captured[] | null = null;
    const db = new Kysely<DB>({
      dialect: new PostgresDialect({ pool }),
      log: (e) => void (e.level === "query" && capture?.push({ sql: e.query.sql, parameters: [...e.query.parameters] })),
    });
    const config = loadConfig(
      { LOG_LEVEL: "silent", RUNWAY_ADMIN_PASSWORD: "bench-admin-password", RUNWAY_DEMO: "0", RUNWAY_REPLICA_ID: "bench" },
      [],
    );
    const app = await buildApp({
      db,
      pool,
      config,
      metrics: new Metrics(),
      databaseUrl: url,
      dashboardDir: "/nonexistent",
      print: () => undefined,
      trust: await startTrust(db, { ...config, secretKey: generateKey().toString("base64") }),
    });
    await app.ready();
    const token = newApiToken();
    await userCreate(db, { username: "bench", role: "viewer", passwordHash: await hashPassword("bench-viewer-password"), now: new Date() });
    await tokenCreate(db, { username: "bench", name: "bench", tokenHash: sha256(token), now: new Date() });
    const headers = { authorization: `Bearer ${token}` };

    const mid = seeded.midRolloutId;
    const big = seeded.bigRolloutId;
    const endpoints: Endpoint[] = [
      { name: `tasks of a ${TASKS_PER_ROLLOUT}-task rollout, status=FAILED`, url: `/api/v1/rollouts/${mid}/tasks?status=FAILED` },
      {
        name: `tasks of a ${TASKS_PER_ROLLOUT}-task rollout, status=DONE (first page of 100)`,
        url: `/api/v1/rollouts/${mid}/tasks?status=DONE`,
      },
      {
        name: `tasks of a ${TASKS_PER_ROLLOUT}-task rollout, status=FAILED&status=CANCELED`,
        url: `/api/v1/rollouts/${mid}/tasks?status=FAILED&status=CANCELED`,
      },
      { name: `rollout with status counts (${TASKS_PER_ROLLOUT} tasks)`, url: `/api/v1/rollouts/${mid}` },
      { name: `tasks of a ${BIG_ROLLOUT}-task rollout, status=FAILED`, url: `/api/v1/rollouts/${big}/tasks?status=FAILED` },
      { name: `rollout with status counts (${BIG_ROLLOUT} tasks)`, url: `/api/v1/rollouts/${big}` },
      { name: "project's rollouts with status counts (page of 50)", url: `/api/v1/projects/bench/rollouts` },
    ];
    for (const ep of endpoints) {
      const call = async () => {
        const res = await app.inject({ method: "GET", url: ep.url, headers });
        if (res.statusCode !== 200) throw new Error(`${ep.url}: ${res.statusCode} ${res.body.slice(0, 300)}`);
      };
      for (let i = 0; i < WARMUP; i++) await call();
      const ms: number[] = [];
      for (let i = 0; i < REQUESTS; i++) {
        const s = performance.now();
        await call();
        ms.push(performance.now() - s);
      }
      ep.latency = summarize(ms);
      capture = [];
      await call();
      ep.queries = await explainAll(pool, capture);
      capture = null;
      console.log(
        `${ep.name}: p50 ${ep.latency.p50} ms, p95 ${ep.latency.p95} ms, ${ep.queries.length} SELECTs, seq scans: ${ep.queries.flatMap((q) => q.seqScans).join(", ") || "none"}`,
      );
    }
    await app.close();

    // The pending scheduler with the history present (nothing pending: its cost is then all overhead).
    const scheduler = new PendingScheduler({ db, clock: { now: () => new Date() }, replicaId: "bench", fullPassIntervalMs: 86_400_000 });
    const passes: { kind: string; ms: number; queries: Explained[] }[] = [];
    for (const full of [true, false]) {
      capture = [];
      const s = performance.now();
      await scheduler.runOnce({ full });
      const ms = performance.now() - s;
      const captured = capture;
      capture = null;
      passes.push({ kind: full ? "full" : "live", ms: Number(ms.toFixed(1)), queries: await explainAll(pool, captured) });
      console.log(`${full ? "full" : "live"} pending pass with the history: ${ms.toFixed(1)} ms`);
    }
    await db.destroy();

    const rows = endpoints.map((e) => ({
      endpoint: e.name,
      url: e.url,
      ...e.latency!,
      seqScans: [...new Set(e.queries!.flatMap((q) => q.seqScans))],
    }));
    console.table(rows.map((r) => ({ endpoint: r.endpoint, p50: r.p50, p95: r.p95, max: r.max, "seq scans": r.seqScans.join(", ") })));
    const file = await writeResult("store-scale", {
      benchmark: "store-scale",
      description:
        "API latency (in-process inject, bearer token) of a rollout's task list and status counts with ~1M finished runs in history, and EXPLAIN ANALYZE of every SELECT issued.",
      setup: {
        rollouts: ROLLOUTS + 1,
        tasks: seeded.tasks,
        runs: seeded.runs,
        seedSeconds: Number(seedS.toFixed(1)),
        requests: REQUESTS,
        warmup: WARMUP,
      },
      targets: { taskListP95Ms: 50 },
      machine: await machineInfo(),
      results: rows,
      endpoints,
      pendingPasses: passes,
    });
    console.log(`wrote ${file}`);
  } finally {
    await serverPg.stop();
  }
}

runMain(main);
