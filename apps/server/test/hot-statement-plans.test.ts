import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { TaskType } from "@runway/shared";
import { createDb, createPool, type Db } from "../src/store/db.js";
import { PENDING_PASS_LOCK, gatingLoadLive, gatingTakeChanges } from "../src/store/gating.js";
import { taskRunsClaim, taskRunsFinishAndClaim, taskRunsRenewLeases, type ClaimedRun } from "../src/store/runs.js";
import { tasksRun } from "../src/store/task-actions.js";
import { useTestDatabase } from "./helpers/db.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";

const t = useTestDatabase();

/**
 * The running scheduler's statements run once per run or per few runs. Prepared, PostgreSQL plans each
 * one afresh (a custom plan) for its first five calls and then keeps a generic plan only if that looks no
 * dearer than the custom ones did; when it does not, every call pays the planning again. For the lease
 * check that was 0.37 ms of planning against 0.12 ms of execution, 38% of the server's time draining SELECT 1
 * runs (issue 19, docs/benchmarks.md §8): its runs came in as unnest() of arrays, whose size a custom plan
 * knows and a generic plan guesses at 10, so the generic plan always looked five times dearer.
 */
describe("the running scheduler's statements on generic plans", () => {
  it("claim, lease check and finish + claim stop being planned after their first calls, with a backlog analyzed", async () => {
    const db = await availableRunsOnOneSession("plans", 2000);
    try {
      // Statistics that count the backlog, as autovacuum records them once a large rollout's runs are AVAILABLE:
      // with the claim's LIMIT a parameter, the generic plan assumed it keeps 10% of them and never won.
      await sql`ANALYZE task_run`.execute(db);
      const now = () => new Date();
      let held: ClaimedRun[] = [];
      for (let round = 0; round < 12; round++) {
        // Claims of 1 and 3 runs, lease checks of 1 to 3: the sizes a custom plan would be fitted to.
        held.push(...(await taskRunsClaim(db, { replicaId: "r", limit: round % 2 === 0 ? 1 : 3, leaseTtlMs: 60_000, now: now() })));
        const check = held.slice(0, 1 + (round % 3));
        const state = await taskRunsRenewLeases(db, {
          replicaId: "r",
          runs: check.map((r) => ({ runId: r.id, epoch: r.epoch })),
          leaseTtlMs: 60_000,
          now: now(),
          // The owner check before a COMMIT (reads a long lease: a read of its own) and the heartbeat (renews).
          ...(round % 2 === 1 ? { renewWithinMs: 50_000 } : {}),
        });
        expect([...state.values()].every((s) => s.owned)).toBe(true);
        const [done, ...rest] = held;
        const { written } = await taskRunsFinishAndClaim(
          db,
          [{ runId: done!.id, replicaId: "r", epoch: done!.epoch, status: "DONE", result: {}, message: "", applied: null }],
          { now: now(), claim: { replicaId: "r", limit: 0, leaseTtlMs: 60_000, now: now() } },
        );
        expect(written.has(done!.id)).toBe(true);
        held = rest;
      }
      const { rows } = await sql<{ statement: string; generic_plans: string; custom_plans: string }>`
        SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements`.execute(db);
      // Each form of a statement's text (the claim's LIMIT takes a few, claimBucket), with its plan counts.
      const plans = (needle: string) => {
        const found = rows.filter((r) => r.statement.includes(needle));
        expect(found.length, needle).toBeGreaterThan(0);
        return found.map((f) => ({ generic: Number(f.generic_plans), custom: Number(f.custom_plans) }));
      };
      for (const [name, needle, forms] of [
        ["claim", "claim_pick AS MATERIALIZED", 2],
        ["lease renewal", "FOR UPDATE OF t SKIP LOCKED", 1],
        ["lease check", "AS long\n    FROM json_to_recordset", 1],
        ["finish", "fin_in AS", 1],
      ] as const) {
        const each = plans(needle);
        // PostgreSQL's five custom plans to compare against, then the generic plan for every later call.
        for (const p of each)
          expect({ name, custom: p.custom, genericUsed: p.generic > 0 }).toEqual({ name, custom: 5, genericUsed: true });
        expect({ name, forms: each.length }).toEqual({ name, forms });
      }
      // Every transition finds its runs by id. Its status guard must not let the generic plan reach them
      // through a partial index WHERE status = …: that scans the whole index, dead entries included
      // (task_run_owner_idx held ~2,500 entries for a finish of 10 runs after 10,000 runs, issue 19).
      const finish = rows.find((r) => r.statement.includes("fin_in AS"))!.statement;
      const { rows: explained } = await sql<{
        "QUERY PLAN": [{ Plan: PlanNode }];
      }>`EXPLAIN (GENERIC_PLAN, FORMAT JSON) ${sql.raw(finish)}`.execute(db);
      const updates = nodes(explained[0]!["QUERY PLAN"][0].Plan).filter(
        (n) => n["Node Type"] === "ModifyTable" && n["Relation Name"] === "task_run",
      );
      expect(updates).toHaveLength(1);
      const reads = updates.flatMap((u) => nodes(u)).filter((n) => n["Relation Name"] === "task_run" && n["Node Type"] !== "ModifyTable");
      expect(reads.length).toBeGreaterThan(0);
      expect(reads.map((n) => n["Index Name"] ?? n["Node Type"]).filter((x) => x !== "task_run_pkey" && x !== "Seq Scan")).toEqual([]);
    } finally {
      await db.destroy();
    }
  });
});

/**
 * The claim takes the first AVAILABLE runs through task_run_available_fifo_idx and stops after `limit` of them.
 * Its pause guard, planned as an anti join, made PostgreSQL guess that almost no AVAILABLE run survives it
 * (an empty, never-analyzed rollout_pause counts as 740 rows), and once ANALYZE had seen most runs AVAILABLE
 * (autovacuum does, right after a large rollout's runs are promoted) the generic plan read and sorted every
 * AVAILABLE run for each claim: a third of the drain's speed in the throughput benchmark (issue 19).
 */
describe("the claim's plan whatever the statistics say", () => {
  it("reads task_run only through task_run_available_fifo_idx, in order, with no sort", async () => {
    const db = await availableRunsOnOneSession("claim-plan", 400);
    try {
      const claimed = await taskRunsClaim(db, { replicaId: "r", limit: 2, leaseTtlMs: 60_000, now: new Date() });
      expect(claimed).toHaveLength(2);
      // Statistics that say nearly every run is AVAILABLE, as autovacuum records them during a large drain.
      await sql`ANALYZE task_run`.execute(db);
      expectPickWalksIndex(await genericPlan(db, "claim_pick AS MATERIALIZED"));
      expect(await previousReleasePick(db)).toEqual(["Index Scan task_run_available_idx"]);
    } finally {
      await db.destroy();
    }
  });

  it("walks task_run_available_fifo_idx too when statistics were taken before the runs became AVAILABLE", async () => {
    // The usual production state: analyzed while idle or with the backlog PENDING, then a pass promotes it.
    await runsOnDatabases("claim-burst", 2000, { type: TaskType.DATABASE_DATA_UPDATE });
    await sql`ANALYZE task_run`.execute(t.db);
    await sql`UPDATE task_run SET status = 'AVAILABLE'`.execute(t.db);
    const db = createDb(createPool(t.url, 1, "claim-burst test"));
    try {
      expect(await taskRunsClaim(db, { replicaId: "r", limit: 3, leaseTtlMs: 60_000, now: new Date() })).toHaveLength(3);
      expectPickWalksIndex(await genericPlan(db, "claim_pick AS MATERIALIZED"));
      expect(await previousReleasePick(db)).toEqual(["Index Scan task_run_available_idx"]);
    } finally {
      await db.destroy();
    }
  });
});

/**
 * The live pass's read returns one row per candidate, and the occupancy of their databases and rollouts.
 * Joined to the candidates, the occupancy's CTE scans were estimated at one row each on the generic plan,
 * so every join was a nested loop over them: 277,000 comparisons, half the statement, for a pass of 479
 * candidates in the 3-replica gated benchmark (issue 19). The occupancy now comes once, as JSON arrays.
 */
describe("the live pass's read", () => {
  it("never joins the candidates to their databases' or rollouts' occupancy", async () => {
    const n = 300;
    // Under a limit every run waits for a pass: n new runs on n databases, read by the next live pass.
    await runsOnDatabases("live-read", n, { type: TaskType.DATABASE_DATA_UPDATE });
    const db = createDb(createPool(t.url, 1, "live-read test"));
    try {
      await db.transaction().execute(async (trx) => {
        const changes = await gatingTakeChanges(trx, { key: PENDING_PASS_LOCK });
        const live = await gatingLoadLive(trx, changes!, new Date());
        expect(live.candidates).toHaveLength(n);
        expect({ busy: live.busy.size, active: live.active.size, limitWaiting: live.limitWaiting.size }).toEqual({
          busy: 0,
          active: 0,
          limitWaiting: 0,
        });
        const joined = (await genericPlan(trx, "occ_busy AS MATERIALIZED"))
          .filter((j) => ["Nested Loop", "Hash Join", "Merge Join"].includes(j["Node Type"]))
          .flatMap((j) => (j.Plans ?? []).map((c) => c["CTE Name"]))
          .filter((name) => name === "occ_busy" || name === "occ_active" || name === "free_st");
        expect(joined).toEqual([]);
      });
    } finally {
      await db.destroy();
    }
  });
});

/**
 * A database's holder (its AVAILABLE or RUNNING sequential run) is one probe of task_run_busy_id_idx. Its
 * conditions implied task_run_rollout_active_idx's predicate too, and with statistics taken while no run was
 * active (a large rollout analyzed before its runs were promoted) PostgreSQL scanned all of that index per
 * database and sorted: 88 of the 113 ms of a live pass in the 3-replica gated benchmark (issue 19). Since
 * migration 0068 that index can serve only reads that name a rollout.
 */
describe("a database's holder whatever the statistics say", () => {
  it("is never read by scanning all of task_run_rollout_active_idx", async () => {
    const n = 300;
    const { projectId, instanceId } = await runsOnDatabases("holder", n, { schemaVersion: "0001" });
    // Statistics of a backlog where nothing is active yet; then the runs are promoted, as a pass would.
    await sql`ANALYZE task_run`.execute(t.db);
    await sql`UPDATE task_run SET status = 'AVAILABLE'`.execute(t.db);
    await seedRollout(
      t.db,
      projectId,
      Array.from({ length: n }, (_, i) => task(instanceId, `db${i}`, { schemaVersion: "0002" })),
    );
    const db = createDb(createPool(t.url, 1, "holder test"));
    try {
      await db.transaction().execute(async (trx) => {
        const changes = await gatingTakeChanges(trx, { key: PENDING_PASS_LOCK });
        const live = await gatingLoadLive(trx, changes!, new Date());
        expect({ candidates: live.candidates.length, busy: live.busy.size }).toEqual({ candidates: n, busy: n });
        const all = await genericPlan(trx, "occ_busy AS MATERIALIZED");
        expect(all.filter((x) => x["Index Name"] === "task_run_busy_id_idx").length).toBeGreaterThan(0);
        // Every use of the rollout index is a probe by rollout, never a scan of all of it.
        const scans = all.filter((x) => x["Index Name"] === "task_run_rollout_active_idx" && !x["Index Cond"]?.includes("rollout_id"));
        expect(scans.map((x) => `${x["Node Type"]} ${x["Filter"] ?? ""}`)).toEqual([]);
      });
    } finally {
      await db.destroy();
    }
  });
});

/** A project under a limit of 10 with one rollout of `n` tasks (`p`), one per database: their runs wait for a pass. */
describe("the API's run statement on a generic plan", () => {
  it("is not planned again on every call once task and task_run are analyzed", async () => {
    // Runs of single tasks, as a click or an API call for one task sends them, after autovacuum analyzed the
    // tables (1,000 tasks, a few hundred runs): the create statement's ids are an array, whose length a custom
    // plan knows and a generic plan guesses at 10, so the generic plan looked dearer and every call was
    // planned again — 1.75 ms of planning a call against 0.63 ms of execution in the latency benchmark (§8).
    const { projectId, instanceId } = await seedProject(t.db, { id: "create-plans" });
    const { rolloutId, taskIds } = await seedRollout(
      t.db,
      projectId,
      Array.from({ length: 1000 }, (_, i) => task(instanceId, `db${i}`, { type: TaskType.DATABASE_DATA_UPDATE })),
      { run: false },
    );
    for (const id of taskIds.slice(0, 300)) await tasksRun(t.db, { rolloutId, taskIds: [id], runAt: null, actor: "a", now: new Date() });
    await sql`ANALYZE task, task_run`.execute(t.db);
    const db = createDb(createPool(t.url, 1, "create plans test"));
    try {
      for (const id of taskIds.slice(300, 312)) await tasksRun(db, { rolloutId, taskIds: [id], runAt: null, actor: "a", now: new Date() });
      const { rows } = await sql<{ generic_plans: string; custom_plans: string }>`
        SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE strpos(statement, 'to_run AS') > 0`.execute(db);
      expect(rows).toHaveLength(1);
      expect({ custom: Number(rows[0]!.custom_plans), genericUsed: Number(rows[0]!.generic_plans) > 0 }).toEqual({
        custom: 5,
        genericUsed: true,
      });
      // And that plan locks the tasks by one index probe each, as the custom plans did.
      const lock = (await genericPlan(db, "to_run AS")).find((n) => n["Subplan Name"] === "CTE lk");
      expect(lock).toBeDefined();
      expect(
        nodes(lock!)
          .filter((n) => n["Relation Name"] === "task")
          .map((n) => `${n["Node Type"]} ${n["Index Name"] ?? ""}`),
      ).toEqual(["Index Scan task_rollout_idx"]);
    } finally {
      await db.destroy();
    }
  });
});

async function runsOnDatabases(id: string, n: number, p: Parameters<typeof task>[2]) {
  const { projectId, instanceId } = await seedProject(t.db, { id, limit: 10 });
  await seedRollout(
    t.db,
    projectId,
    Array.from({ length: n }, (_, i) => task(instanceId, `db${i}`, p)),
  );
  return { projectId, instanceId };
}

/** Every node of the generic plan of the one statement prepared on `db`'s session whose text holds `needle`. */
async function genericPlan(db: Db, needle: string): Promise<PlanNode[]> {
  const { rows } = await sql<{ statement: string }>`
    SELECT statement FROM pg_prepared_statements WHERE strpos(statement, ${needle}) > 0`.execute(db);
  expect(rows, needle).toHaveLength(1);
  const { rows: explained } = await sql<{
    "QUERY PLAN": [{ Plan: PlanNode }];
  }>`EXPLAIN (GENERIC_PLAN, FORMAT JSON) ${sql.raw(rows[0]!.statement)}`.execute(db);
  return nodes(explained[0]!["QUERY PLAN"][0].Plan);
}

/**
 * How the previous release's claim (before migration 0071: by id, `status = 'AVAILABLE'` in the default
 * collation; its pick verbatim) reads task_run on this schema: through its own task_run_available_idx as before,
 * with no sort, and never through task_run_pkey, which a replica still running it during an upgrade would walk
 * past every finished run.
 */
async function previousReleasePick(db: Db): Promise<string[]> {
  const { rows } = await sql<{ "QUERY PLAN": [{ Plan: PlanNode }] }>`EXPLAIN (GENERIC_PLAN, FORMAT JSON)
    SELECT id, updated_at FROM task_run WHERE status = 'AVAILABLE'
      AND NOT EXISTS (SELECT 1 FROM rollout_pause rp WHERE rp.rollout_id = task_run.rollout_id OFFSET 0)
      ORDER BY id LIMIT 16 FOR UPDATE SKIP LOCKED`.execute(db);
  return nodes(rows[0]!["QUERY PLAN"][0].Plan)
    .filter((n) => n["Relation Name"] === "task_run" || n["Node Type"] === "Sort")
    .map((n) => `${n["Node Type"]} ${n["Index Name"] ?? ""}`);
}

/** The claim's pick reads task_run only by walking task_run_available_fifo_idx in order, with no sort. */
function expectPickWalksIndex(plan: PlanNode[]): void {
  const pick = plan.find((n) => n["Subplan Name"] === "CTE claim_pick");
  expect(pick).toBeDefined();
  const inPick = nodes(pick!);
  expect(inPick.filter((n) => n["Relation Name"] === "task_run").map((n) => `${n["Node Type"]} ${n["Index Name"] ?? ""}`)).toEqual([
    "Index Scan task_run_available_fifo_idx",
  ]);
  expect(inPick.filter((n) => n["Node Type"] === "Sort")).toEqual([]);
}

/**
 * A project with `n` AVAILABLE runs (data updates under no limit are created AVAILABLE, so the claim has work
 * without a pending pass), and a store on one connection, so every call lands on the same session and its
 * prepared statements. The caller destroys it.
 */
async function availableRunsOnOneSession(id: string, n: number): Promise<Db> {
  const { projectId, instanceId } = await seedProject(t.db, { id });
  await seedRollout(
    t.db,
    projectId,
    Array.from({ length: n }, (_, i) => task(instanceId, `db${i}`, { type: TaskType.DATABASE_DATA_UPDATE })),
  );
  return createDb(createPool(t.url, 1, `${id} test`));
}

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Subplan Name"?: string;
  "CTE Name"?: string;
  "Index Cond"?: string;
  Filter?: string;
  Plans?: PlanNode[];
}

/** A plan node and everything below it. */
function nodes(n: PlanNode): PlanNode[] {
  return [n, ...(n.Plans ?? []).flatMap(nodes)];
}
