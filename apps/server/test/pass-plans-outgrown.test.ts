import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { PLAN_FLOOR_BYTES, PLAN_GROWTH, planFreshness, statsOutgrown } from "../src/scheduler/plan-basis.js";
import { createPassDb, type Db } from "../src/store/db.js";
import { gatingAnalyze } from "../src/store/gating.js";
import { rolloutCreate } from "../src/store/rollouts.js";
import { tasksRun } from "../src/store/task-actions.js";
import { useTestDatabase } from "./helpers/db.js";
import { seedProject, task } from "./helpers/fixtures.js";

const t = useTestDatabase();

describe("planFreshness", () => {
  const basis = { session: 7, sizes: [8192, 0] };
  it("keeps plans until a table has grown PLAN_GROWTH times over, counting small tables as PLAN_FLOOR_BYTES", () => {
    expect(planFreshness(basis, { session: 7, sizes: [8192, PLAN_GROWTH * PLAN_FLOOR_BYTES - 1] })).toBe("keep");
    expect(planFreshness(basis, { session: 7, sizes: [8192, PLAN_GROWTH * PLAN_FLOOR_BYTES] })).toBe("replan");
    const big = { session: 7, sizes: [10 * PLAN_FLOOR_BYTES, 0] };
    expect(planFreshness(big, { session: 7, sizes: [PLAN_GROWTH * 10 * PLAN_FLOOR_BYTES - 1, 0] })).toBe("keep");
    expect(planFreshness(big, { session: 7, sizes: [PLAN_GROWTH * 10 * PLAN_FLOOR_BYTES, 0] })).toBe("replan");
    // A table that shrank keeps its plans: they were made for more than it holds.
    expect(planFreshness(big, { session: 7, sizes: [0, 0] })).toBe("keep");
  });

  it("takes a first basis, or a new session's, without discarding anything", () => {
    expect(planFreshness(undefined, basis)).toBe("rebase");
    expect(planFreshness(basis, { session: 8, sizes: [1e9, 1e9] })).toBe("rebase");
  });
});

describe("statsOutgrown", () => {
  const big = PLAN_GROWTH * PLAN_FLOOR_BYTES;
  it("asks for an ANALYZE of a table PLAN_GROWTH times past its statistics, once per such growth", () => {
    expect(statsOutgrown([big - 1, big], [0, 0], [])).toEqual([1]);
    expect(statsOutgrown([big, 10 * big], [big / PLAN_GROWTH, 10 * big], [])).toEqual([0]);
    // Asked at this size already (a role that may not analyze keeps its statistics): not again until it grows as much.
    expect(statsOutgrown([big, 0], [0, 0], [big])).toEqual([]);
    expect(statsOutgrown([PLAN_GROWTH * big, 0], [0, 0], [big])).toEqual([0]);
  });
});

/**
 * A system at rest: nothing waits, and autovacuum has analyzed task_run_wait empty. A replica's pass session
 * makes the live read's generic plan then, costing task_run_wait at nothing. A large rollout later fills it;
 * that plan scanned the whole table once per freed database (4–8 s a live pass at 20,000 runs, issue 19) until
 * an ANALYZE of it. The pass must notice the growth and have its plans made afresh.
 */
describe("a pass session's plans after the tables they were made for grew", () => {
  it("re-plans the live read once task_run_wait has outgrown its size at planning", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { id: "outgrown", limit: 10 });
    // Only the passes analyze task_run_wait here: autovacuum's own ANALYZE would race the checks below.
    await sql`ALTER TABLE task_run_wait SET (autovacuum_enabled = false)`.execute(t.db);
    await sql`ANALYZE task_run_wait`.execute(t.db);
    let failNext = false;
    const passDb = createPassDb(t.url, "outgrown pass");
    try {
      const scheduler = new PendingScheduler({
        db: passDb,
        readersDb: t.db,
        clock: { now: () => new Date() },
        replicaId: "r",
        fullPassIntervalMs: 1e12,
        onPass: () => {
          if (failNext) {
            failNext = false;
            throw new Error("injected: the pass failed after its commit");
          }
        },
      });
      await scheduler.runOnce(); // a replica's first pass is full
      await scheduler.runOnce(); // a live pass: the live read's generic plan is made now, with nothing waiting
      expect(await waitScans(passDb)).toContain("Seq Scan");

      // 30 databases, a chain of 100 versioned changes on each: all but the first of each wait with a cause.
      const tasks = Array.from({ length: 3000 }, (_, k) =>
        task(instanceId, `db${k % 30}`, { schemaVersion: String(1000 + Math.floor(k / 30)) }),
      );
      const rolloutId = await rolloutCreate(
        t.db,
        { projectId, title: "big", createdBy: "test", stages: [{ environment: "test", tasks }] },
        new Date(),
      );
      const ids = (await t.db.selectFrom("task").select("id").where("rollout_id", "=", rolloutId).execute()).map((r) => r.id);
      await tasksRun(t.db, { rolloutId, taskIds: ids, runAt: null, actor: "test", now: new Date() });
      const first = await scheduler.runOnce(); // the new runs: their causes written
      expect(first?.causesWritten).toBeGreaterThan(2900);
      const { rows } = await sql<{ bytes: string }>`SELECT pg_relation_size('task_run_wait') AS bytes`.execute(t.db);
      expect(Number(rows[0]!.bytes)).toBeGreaterThanOrEqual(PLAN_GROWTH * PLAN_FLOOR_BYTES);

      const tuples = async () =>
        (await sql<{ n: number }>`SELECT reltuples::float8 AS n FROM pg_class WHERE oid = 'task_run_wait'::regclass`.execute(t.db)).rows[0]!
          .n;
      // A pass that fails after finding the table outgrown analyzes nothing, and leaves the ANALYZE to the next.
      failNext = true;
      await expect(scheduler.runOnce()).rejects.toThrow("injected");
      expect(await tuples()).toBeLessThan(2900);

      // The failed pass had seen the growth and dropped the session's plans: the live read is planned for the table as it is.
      await scheduler.runOnce();
      const scans = await waitScans(passDb);
      expect(scans.length).toBeGreaterThan(0);
      expect(scans).not.toContain("Seq Scan");
      // And the statistics every session plans with now count the causes (the pass analyzed the table after it).
      expect(await tuples()).toBeGreaterThan(2900);
    } finally {
      await passDb.destroy();
    }
  });
});

describe("gatingAnalyze", () => {
  it("leaves a table whose statistics changed since the pass read them: another replica analyzed it meanwhile", async () => {
    await sql`ALTER TABLE task_run_wait SET (autovacuum_enabled = false)`.execute(t.db);
    await sql`ANALYZE task_run_wait`.execute(t.db);
    const statBytes = async () =>
      Number(
        (
          await sql<{ b: string }>`SELECT relpages::bigint * current_setting('block_size')::bigint AS b FROM pg_class
            WHERE oid = 'task_run_wait'::regclass`.execute(t.db)
        ).rows[0]!.b,
      );
    // Whether the statistics know of the causes of one type (pg_statistic is written in the ANALYZE's transaction).
    const counted = async (type: string) =>
      (
        await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stats WHERE tablename = 'task_run_wait' AND attname = 'type'
          AND ${type} = ANY(most_common_vals::text::text[])`.execute(t.db)
      ).rows[0]!.n > 0;
    const fill = (from: number, type: string) =>
      sql`INSERT INTO task_run_wait (run_id, type, cause, rollout_id, run_created_at)
        SELECT g, ${type}, '{}'::jsonb, 1, now() FROM generate_series(${from}::bigint, ${from + 2999}::bigint) g`.execute(t.db);
    const seen = await statBytes();
    await fill(1, "RUN_AT");
    // Two replicas' passes found it outgrown at the same statistics: the first analyzes it, the second does not.
    expect(await gatingAnalyze(t.db, [{ name: "task_run_wait", statBytes: seen }])).toBe(true);
    const analyzed = await statBytes();
    expect(analyzed).toBeGreaterThan(seen);
    expect(await counted("RUN_AT")).toBe(true);
    await fill(10_000, "DATABASE_BUSY");
    await fill(20_000, "DATABASE_BUSY");
    expect(await gatingAnalyze(t.db, [{ name: "task_run_wait", statBytes: seen }])).toBe(true);
    expect(await counted("DATABASE_BUSY")).toBe(false);
    // A pass that read the statistics as they are now has them taken again.
    expect(await gatingAnalyze(t.db, [{ name: "task_run_wait", statBytes: analyzed }])).toBe(true);
    expect(await counted("DATABASE_BUSY")).toBe(true);
    expect(await statBytes()).toBeGreaterThan(analyzed);
  });

  it("gives up on a table another session holds, after the lock timeout", async () => {
    const other = await t.db.connection().execute(async (c) => {
      await sql`BEGIN`.execute(c);
      await sql`LOCK TABLE task_run_wait IN SHARE UPDATE EXCLUSIVE MODE`.execute(c);
      try {
        return await gatingAnalyze(t.db, [{ name: "task_run_wait", statBytes: 0 }], 50);
      } finally {
        await sql`ROLLBACK`.execute(c);
      }
    });
    expect(other).toBe(false);
  });
});

/**
 * How the live read's cached generic plans, on the pass session, read task_run_wait: EXPLAIN EXECUTE of each
 * prepared form of the read (one per shape of its inputs, liveShapeKey) uses the plan the passes use (forced
 * generic, as a pass forces it), with no value bound.
 */
async function waitScans(passDb: Db): Promise<string[]> {
  return passDb.connection().execute(async (c) => {
    const { rows } = await sql<{ name: string; n: number }>`
      SELECT name, cardinality(parameter_types) AS n FROM pg_prepared_statements WHERE strpos(statement, 'WITH done AS') > 0`.execute(c);
    expect(rows.length).toBeGreaterThan(0);
    await sql`SET plan_cache_mode = force_generic_plan`.execute(c);
    try {
      const scans: string[] = [];
      for (const { name, n } of rows) {
        const args = Array.from({ length: n }, () => "NULL").join(", ");
        const { rows: plan } = await sql<{ "QUERY PLAN": [{ Plan: PlanNode }] }>`
          EXPLAIN (FORMAT JSON) EXECUTE ${sql.id(name)}(${sql.raw(args)})`.execute(c);
        scans.push(
          ...nodes(plan[0]!["QUERY PLAN"][0].Plan)
            .filter((p) => p["Relation Name"] === "task_run_wait")
            .map((p) => p["Node Type"]),
        );
      }
      return scans;
    } finally {
      await sql`RESET plan_cache_mode`.execute(c);
    }
  });
}

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  Plans?: PlanNode[];
}

function nodes(n: PlanNode): PlanNode[] {
  return [n, ...(n.Plans ?? []).flatMap(nodes)];
}
