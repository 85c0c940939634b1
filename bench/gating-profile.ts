import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { PendingScheduler } from "@runway/server/scheduler";
import type { DB } from "@runway/server/store";
import { createPool } from "@runway/server/store";
import { runMain, startBenchPg, BENCH_CONTROL_BOUNDS } from "./lib/pg.js";
import { seedGating } from "./lib/gating-seed.js";
import { applyLiveChange, claimAll, reserveTasks } from "./lib/live-change.js";
import { explainAll, type Captured } from "./lib/explain.js";

/**
 * `pnpm --filter @runway/bench gating:profile`: where a pending pass spends its time. Seeds one size
 * (BENCH_PROFILE_SIZE, default 100000) as bench:gating does, then prints each statement's duration of one
 * full and a few live passes, and EXPLAIN (ANALYZE, BUFFERS) of the slowest reads. Diagnostic, not a figure.
 * BENCH_PROFILE_RECORDED=1 adds a full pass that finds every cause recorded; BENCH_PROFILE_READERS=1,2 times
 * full passes with each count of reader sessions in turn on the same seed (see below).
 */
const SIZE = Number(process.env.BENCH_PROFILE_SIZE ?? 100_000);
/** Live passes profiled (more than 5 shows prepared statements on their generic plans). */
const LIVE = Number(process.env.BENCH_PROFILE_LIVE ?? 3);
/** BENCH_PROFILE_STATS=1: pg_stat_statements with planning tracked, printed for the live passes (server plan vs execution time). */
const STATS = process.env.BENCH_PROFILE_STATS === "1";
const REPLICA = "bench";

async function main(): Promise<void> {
  const serverPg = await startBenchPg(
    STATS
      ? { shared_preload_libraries: "pg_stat_statements", "pg_stat_statements.track": "top", "pg_stat_statements.track_planning": "on" }
      : {},
  );
  try {
    const url = await serverPg.freshDatabase(`bench_gating_profile`);
    await seedGating(url, { pending: SIZE, databases: 1000, rollouts: 100, reserve: 1000, parallelLimit: 10 });
    // The replica's own pool (its client sends prepared() statements as named ones), with the bounds raised
    // for a full pass at 1M.
    // BENCH_PROFILE_PLAN_MODE=force_generic_plan: every prepared statement on its generic plan from the
    // first run (what PostgreSQL may settle on after five), to check those plans at this size.
    const mode = process.env.BENCH_PROFILE_PLAN_MODE;
    const poolUrl = mode ? `${url}${url.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c plan_cache_mode=${mode}`)}` : url;
    const pool = createPool(poolUrl, 4, "bench profile", BENCH_CONTROL_BOUNDS);
    let captured: (Captured & { ms: number })[] = [];
    const db = new Kysely<DB>({
      dialect: new PostgresDialect({ pool }),
      log: (e) => {
        if (e.level === "query") captured.push({ sql: e.query.sql, parameters: [...e.query.parameters], ms: e.queryDurationMillis });
        else
          captured.push({
            sql: `FAILED (${String(e.error)}) ${e.query.sql}`,
            parameters: [...e.query.parameters],
            ms: e.queryDurationMillis,
          });
      },
    });
    // A raised pass-lock idle bound: a full pass at 1M outlasts the 5 s one (docs/benchmarks.md).
    const scheduler = new PendingScheduler({
      db,
      clock: { now: () => new Date() },
      replicaId: REPLICA,
      fullPassIntervalMs: 86_400_000,
      lockIdleTimeoutMs: Number(process.env.BENCH_PROFILE_LOCK_IDLE_MS ?? 120_000),
    });
    const show = (label: string, ms: number) => {
      console.log(`${label}: ${ms.toFixed(1)} ms`);
      for (const q of captured) console.log(`  ${q.ms.toFixed(1).padStart(8)} ms  ${q.sql.trim().replace(/\s+/g, " ").slice(0, 110)}`);
    };
    await scheduler.runOnce({ full: true });
    await claimAll(db, REPLICA);
    // BENCH_PROFILE_READERS=1,2: full passes with each reader count in turn on the same data (causes deleted
    // before each), BENCH_PROFILE_AB_ROUNDS rounds: an A/B on one seed, where separate runs differ by their noise.
    const readerCounts = (process.env.BENCH_PROFILE_READERS ?? "").split(",").filter(Boolean).map(Number);
    if (readerCounts.length > 0) {
      const times = new Map<number, { full: number[]; recorded: number[] }>(readerCounts.map((n) => [n, { full: [], recorded: [] }]));
      for (let round = 0; round < Number(process.env.BENCH_PROFILE_AB_ROUNDS ?? 3); round++)
        for (const n of round % 2 === 0 ? readerCounts : [...readerCounts].reverse()) {
          const s = new PendingScheduler({
            db,
            clock: { now: () => new Date() },
            replicaId: REPLICA,
            fullPassIntervalMs: 86_400_000,
            lockIdleTimeoutMs: 120_000,
            fullPassReaders: n,
          });
          await pool.query(`DELETE FROM task_run_wait; DELETE FROM stage_wait`);
          await pool.query(`VACUUM ANALYZE task_run_wait, stage_wait`);
          let t = performance.now();
          await s.runOnce({ full: true });
          times.get(n)!.full.push(performance.now() - t);
          t = performance.now();
          await s.runOnce({ full: true });
          times.get(n)!.recorded.push(performance.now() - t);
        }
      for (const [n, x] of times)
        console.log(
          `readers ${n}: full ${x.full.map((v) => v.toFixed(0)).join(" ")} | causes recorded ${x.recorded.map((v) => v.toFixed(0)).join(" ")}`,
        );
    }
    await pool.query(`DELETE FROM task_run_wait; DELETE FROM stage_wait`);
    await pool.query(`VACUUM ANALYZE task_run_wait, stage_wait`);
    captured = [];
    let t0 = performance.now();
    try {
      await scheduler.runOnce({ full: true });
    } catch (e) {
      show("full (failed)", performance.now() - t0);
      throw e;
    }
    show("full", performance.now() - t0);
    if (process.env.BENCH_PROFILE_RECORDED) {
      captured = [];
      const t2 = performance.now();
      const r2 = await scheduler.runOnce({ full: true });
      show(`full, causes recorded (${r2?.causesWritten} written)`, performance.now() - t2);
    }
    if (process.env.BENCH_PROFILE_EXPLAIN) {
      // The full pass's writes, explained inside a transaction rolled back (EXPLAIN ANALYZE executes them).
      const writes = captured.filter((q) => /^\s*(\/\*[^*]*\*\/\s*)?(insert|update|with)/i.test(q.sql) && q.ms > 50);
      await pool.query(`DELETE FROM task_run_wait; DELETE FROM stage_wait`);
      // The causes' write, timed alone in variants (each in a transaction rolled back, the table vacuumed
      // before each), 7 rounds: a single timing of a 10k write varied by ±20% between runs.
      const w = writes.find((q) => /INSERT INTO task_run_wait/.test(q.sql));
      if (w) {
        // The pass's first write is the plain INSERT (every cause was deleted, and the profile's pass holds the
        // real lock); the upsert is the same statement with ON CONFLICT.
        const plain = w.sql.replace(/ON CONFLICT[\s\S]*$/, "");
        const variants: [string, string][] = [
          ["plain INSERT (the full pass's, for runs read without a cause)", plain],
          [
            "upsert (the live pass's, and a full pass's for runs read with one)",
            `${plain} ON CONFLICT (run_id) DO UPDATE SET type = excluded.type, cause = excluded.cause`,
          ],
          [
            "plain, no PENDING join",
            plain.replace(/JOIN task_run r ON r.id = c.id AND r.status = 'PENDING'/, "JOIN task_run r ON r.id = c.id"),
          ],
          ["parse only", `SELECT count(*) FROM jsonb_array_elements($1::jsonb)`],
        ];
        const { rows: d2 } = await pool.query<{ doc: string }>(
          `SELECT jsonb_agg(jsonb_build_array(e -> 0, e -> 1, r.rollout_id::text, r.created_at, r.instance_id, r.database_name, r.sequential))::text AS doc
           FROM jsonb_array_elements($1::jsonb) e JOIN task_run r ON r.id = (e ->> 0)::bigint`,
          [w.parameters[0]],
        );
        const noJoin = `INSERT INTO task_run_wait (run_id, type, cause, rollout_id, run_created_at, instance_id, database_name, sequential)
          SELECT (e ->> 0)::bigint, e -> 1 ->> 'type', e -> 1, (e ->> 2)::bigint, (e ->> 3)::timestamptz, e ->> 4, e ->> 5, (e -> 6)::boolean
          FROM jsonb_array_elements($1::jsonb) AS e`;
        const all: [string, string, unknown[]][] = [
          ...variants.map(([l, t]) => [l, t, w.parameters] as [string, string, unknown[]]),
          ["no join, columns in doc", noJoin, [d2[0]!.doc]],
          [
            "no join, columns in doc, upsert",
            noJoin + " ON CONFLICT (run_id) DO UPDATE SET type = excluded.type, cause = excluded.cause",
            [d2[0]!.doc],
          ],
          ["do nothing", `${plain} ON CONFLICT (run_id) DO NOTHING`, w.parameters],
          ...arrayVariants(String(w.parameters[0])),
        ];
        const times = new Map<string, number[]>();
        for (let rep = 0; rep < 7; rep++)
          for (const [label, text, params] of all) {
            await pool.query("VACUUM task_run_wait");
            const c = await pool.connect();
            try {
              await c.query("BEGIN");
              const t1 = performance.now();
              await c.query(text, params);
              times.set(label, [...(times.get(label) ?? []), performance.now() - t1]);
            } finally {
              await c.query("ROLLBACK");
              c.release();
            }
          }
        for (const [label, ts] of times) {
          ts.sort((a, b) => a - b);
          console.log(`write causes, ${label}: median ${ts[3]!.toFixed(1)} ms, min ${ts[0]!.toFixed(1)}`);
        }
        await indexShares(pool, d2[0]!.doc);
      }
      // The full pass's read: the cursor's query, explained on its own (its first FETCH sorts every PENDING run;
      // with several readers, the first reader's part of them).
      const cursor = captured.find((q) => /DECLARE gating_full_pass/.test(q.sql));
      if (cursor) {
        const text = cursor.sql.replace(/^[\s\S]*?CURSOR FOR/, "");
        const { rows } = await pool.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, cursor.parameters);
        console.log(`\nthe full pass's read\n${rows.map((r) => r["QUERY PLAN"]).join("\n")}`);
      }
      for (const q of writes) {
        const c = await pool.connect();
        try {
          await c.query("BEGIN");
          const { rows } = await c.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS) ${q.sql}`, q.parameters);
          console.log(`\n${q.sql.trim().replace(/\s+/g, " ").slice(0, 200)}\n${rows.map((r) => r["QUERY PLAN"]).join("\n")}`);
        } finally {
          await c.query("ROLLBACK");
          c.release();
        }
      }
    }
    await claimAll(db, REPLICA);
    let reserve = await reserveTasks(pool);
    if (STATS) {
      await pool.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
      await pool.query("SELECT pg_stat_statements_reset()");
    }
    const passMs: number[] = [];
    for (let i = 0; i < LIVE; i++) {
      reserve = await applyLiveChange(db, pool, { change: 100, replicaId: REPLICA, reserve });
      captured = [];
      t0 = performance.now();
      const r = await scheduler.runOnce();
      const ms = performance.now() - t0;
      passMs.push(ms);
      show(`live ${r?.kind} candidates=${r?.candidates} promoted=${r?.promoted}`, ms);
      if (i < LIVE - 1) await claimAll(db, REPLICA);
    }
    if (STATS) await printStats(pool, url, passMs);
    if (process.env.BENCH_PROFILE_EXPLAIN) {
      for (const e of await explainAll(pool, captured)) console.log(`\n${e.executionMs} ms ${e.sql.slice(0, 200)}\n${e.plan}`);
      // The live read writes (its end mark): explained in a transaction rolled back.
      for (const q of captured.filter((x) => /WITH done AS/.test(x.sql))) {
        const c = await pool.connect();
        try {
          await c.query("BEGIN");
          const { rows } = await c.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS) ${q.sql}`, q.parameters);
          console.log(`\nlive read:\n${rows.map((r) => r["QUERY PLAN"]).join("\n")}`);
        } finally {
          await c.query("ROLLBACK");
          c.release();
        }
      }
    }
    await db.destroy();
  } finally {
    await serverPg.stop();
  }
}

/**
 * The live passes' statements as the server saw them (pg_stat_statements over the whole loop: the passes'
 * statements dominate; the bench's own change and claim statements are listed too): calls, mean planning
 * and execution time. What the passes took beyond the server's time is round trips and Node.
 */
async function printStats(pool: pg.Pool, url: string, passMs: number[]): Promise<void> {
  const dbname = new URL(url).pathname.slice(1);
  const { rows } = await pool.query<{ calls: string; plans: string; plan: number; exec: number; q: string }>(
    `SELECT s.calls, s.plans, s.total_plan_time / s.calls AS plan, s.mean_exec_time AS exec, regexp_replace(left(s.query, 110), '\\s+', ' ', 'g') AS q
     FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1 AND s.calls > 0
     ORDER BY s.total_plan_time + s.total_exec_time DESC LIMIT 40`,
    [dbname],
  );
  const mean = passMs.reduce((a, b) => a + b, 0) / passMs.length;
  console.log(
    `\nlive passes: mean ${mean.toFixed(1)} ms over ${passMs.length}; per statement: calls, times planned, mean ms planning and executing per call`,
  );
  for (const r of rows)
    console.log(
      `${String(r.calls).padStart(5)} ${String(r.plans).padStart(5)} ${r.plan.toFixed(2).padStart(8)} ${r.exec.toFixed(2).padStart(8)}  ${r.q}`,
    );
}

runMain(main);

/**
 * What each of task_run_wait's indexes costs the causes' write: the same 10,000 causes (the run's columns in
 * the document, a plain INSERT) into a copy of the table with no index, with each index alone besides the
 * primary key, and with all of them; 7 rounds each, the copy emptied and vacuumed before each.
 */
/** A text[] literal built by hand (node-postgres escapes element by element). */
const textArray = (xs: string[]) => `{${xs.map((x) => `"${x.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`).join(",")}}`;

/** Each distinct cause once in a JSON array, and per run its index there. */
function distinctCauses(pairs: [string, unknown][]): unknown[] {
  const index = new Map<string, number>();
  const ks = pairs.map((p) => {
    const text = JSON.stringify(p[1]);
    let k = index.get(text);
    if (k === undefined) index.set(text, (k = index.size));
    return k;
  });
  console.log(`distinct causes: ${index.size} of ${pairs.length}`);
  return [`{${pairs.map((p) => p[0]).join(",")}}`, `{${ks.join(",")}}`, `[${[...index.keys()].join(",")}]`];
}

/** The causes' write with its values as arrays (unnest) instead of one JSON document. */
function arrayVariants(doc: string): [string, string, unknown[]][] {
  const pairs = JSON.parse(doc) as [string, { type: string }][];
  const ids = `{${pairs.map((p) => p[0]).join(",")}}`;
  const types = textArray(pairs.map((p) => p[1].type));
  const causes = textArray(pairs.map((p) => JSON.stringify(p[1])));
  const insert = `INSERT INTO task_run_wait (run_id, type, cause, rollout_id, run_created_at, instance_id, database_name, sequential)`;
  const join = `JOIN task_run r ON r.id = c.id AND r.status = 'PENDING'`;
  return [
    [
      "arrays: bigint[] ids, text[] causes cast to jsonb",
      `${insert} SELECT c.id, c.cause ->> 'type', c.cause, r.rollout_id, r.created_at, r.instance_id, r.database_name, r.sequential
       FROM (SELECT u.id, u.cause::jsonb AS cause FROM unnest($1::bigint[], $2::text[]) AS u(id, cause)) c ${join}`,
      [ids, causes],
    ],
    [
      "arrays: bigint[] ids, text[] types, jsonb[] causes",
      `${insert} SELECT c.id, c.type, c.cause, r.rollout_id, r.created_at, r.instance_id, r.database_name, r.sequential
       FROM unnest($1::bigint[], $2::text[], $3::jsonb[]) AS c(id, type, cause) ${join}`,
      [ids, types, causes],
    ],
    [
      "distinct causes once, bigint[] ids and int[] indexes",
      `${insert} SELECT u.id, c.type, c.cause, r.rollout_id, r.created_at, r.instance_id, r.database_name, r.sequential
       FROM unnest($1::bigint[], $2::int[]) AS u(id, k)
       JOIN (SELECT e.k - 1 AS k, e.cause, e.cause ->> 'type' AS type FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS e(cause, k)) c ON c.k = u.k
       JOIN task_run r ON r.id = u.id AND r.status = 'PENDING'`,
      distinctCauses(pairs),
    ],
    ["arrays: parse only", `SELECT count(*) FROM unnest($1::bigint[], $2::text[], $3::jsonb[])`, [ids, types, causes]],
  ];
}

async function indexShares(pool: pg.Pool, doc: string): Promise<void> {
  const { rows: defs } = await pool.query<{ name: string; def: string }>(
    `SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'task_run_wait' ORDER BY indexname`,
  );
  const onCopy = (def: string) => def.replace(/ INDEX (\S+) ON public\.task_run_wait /, " INDEX $1_probe ON public.wait_probe ");
  const pkey = defs.find((d) => d.name === "task_run_wait_pkey")!;
  const others = defs.filter((d) => d !== pkey);
  const configs: [string, string[]][] = [
    ["no index", []],
    ["primary key only", [pkey.def]],
    ...others.map((d): [string, string[]] => [`primary key + ${d.name}`, [pkey.def, d.def]]),
    ["every index", defs.map((d) => d.def)],
    ["every index, unlogged", defs.map((d) => d.def)],
  ];
  const insert = `INSERT INTO wait_probe (run_id, type, cause, rollout_id, run_created_at, instance_id, database_name, sequential)
    SELECT (e ->> 0)::bigint, e -> 1 ->> 'type', e -> 1, (e ->> 2)::bigint, (e ->> 3)::timestamptz, e ->> 4, e ->> 5, (e -> 6)::boolean
    FROM jsonb_array_elements($1::jsonb) AS e`;
  for (const [label, indexes] of configs) {
    await pool.query(`DROP TABLE IF EXISTS wait_probe`);
    await pool.query(`CREATE ${label.endsWith("unlogged") ? "UNLOGGED " : ""}TABLE wait_probe (LIKE task_run_wait INCLUDING DEFAULTS)`);
    for (const def of indexes) await pool.query(onCopy(def));
    const ts: number[] = [];
    for (let round = 0; round < 7; round++) {
      await pool.query(`TRUNCATE wait_probe`);
      await pool.query(`VACUUM wait_probe`);
      const t = performance.now();
      await pool.query(insert, [doc]);
      ts.push(performance.now() - t);
    }
    ts.sort((a, b) => a - b);
    console.log(`causes into a copy, ${label}: median ${ts[3]!.toFixed(1)} ms, min ${ts[0]!.toFixed(1)}`);
  }
  await pool.query(`DROP TABLE wait_probe`);
}
