import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { versionSortKey } from "@runway/shared";
import { rolloutCreate } from "../src/store/rollouts.js";
import { tasksRun } from "../src/store/task-actions.js";
import { createTestDatabase, type TestDatabase } from "./helpers/db.js";
import { seedProject, task } from "./helpers/fixtures.js";

/**
 * Migration 0060: a task's stage and rollout are checked by one key, (stage_id, rollout_id) → stage, in
 * place of two (issue 16: one trigger call less per task row when a large rollout is created).
 */

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.close();
});

describe("task keys (0060)", () => {
  it("a task must name a stage of its own rollout, an existing stage and an existing instance", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { id: "keys" });
    const now = new Date();
    const a = await rolloutCreate(
      t.db,
      { projectId, title: "a", createdBy: "t", stages: [{ environment: "e", tasks: [task(instanceId, "d")] }] },
      now,
    );
    const b = await rolloutCreate(
      t.db,
      { projectId, title: "b", createdBy: "t", stages: [{ environment: "e", tasks: [task(instanceId, "d")] }] },
      now,
    );
    const stageOf = async (rolloutId: string) =>
      (await t.db.selectFrom("stage").select("id").where("rollout_id", "=", rolloutId).executeTakeFirstOrThrow()).id;
    const insert = (rolloutId: string, stageId: string, instance = instanceId) =>
      sql`INSERT INTO task (rollout_id, stage_id, instance_id, database_name, type, statement, rerunnable)
        VALUES (${rolloutId}, ${stageId}, ${instance}, 'd', 'DATABASE_SCHEMA_UPDATE', 'SELECT 1', true)`.execute(t.db);
    await expect(insert(a, await stageOf(b))).rejects.toMatchObject({ code: "23503", constraint: "task_stage_rollout_fkey" });
    await expect(insert(a, "999999")).rejects.toMatchObject({ code: "23503" });
    await expect(insert("999999", await stageOf(a))).rejects.toMatchObject({ code: "23503" });
    await expect(insert(a, await stageOf(a), "no-such-instance")).rejects.toMatchObject({ code: "23503" });
    await insert(a, await stageOf(a));
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM task WHERE rollout_id = ${a}`.execute(t.db);
    expect(rows[0]!.n).toBe(2);
  });

  it("the previous release's task INSERT (a46be46, verbatim) still creates its tasks on the schema after 0060", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { id: "prev-keys" });
    const now = new Date();
    const rollout = (
      await t.db
        .insertInto("rollout")
        .values({ project_id: projectId, title: "prev", created_by: "old", created_at: now })
        .returning("id")
        .executeTakeFirstOrThrow()
    ).id;
    const { rows: stages } = await sql<{ id: string }>`
      INSERT INTO stage (rollout_id, environment, position) VALUES (${rollout}, 'a', 0), (${rollout}, 'b', 1) RETURNING id`.execute(t.db);
    const tasks = [
      { stageId: stages[0]!.id, database: "d1", version: "0001", text: 1 },
      { stageId: stages[1]!.id, database: "d2", version: null, text: 2 },
    ];
    await sql`
      WITH t AS (
        INSERT INTO task (rollout_id, stage_id, instance_id, database_name, type, statement, schema_version,
          schema_version_key, rerunnable, apply_once, created_at, updated_at)
        SELECT ${rollout}, s, i, d, ty, st.text, v, k, rr, ao, ${now}, ${now}
        FROM unnest(${tasks.map((x) => x.stageId)}::bigint[], ${tasks.map(() => instanceId)}::text[],
          ${tasks.map((x) => x.database)}::text[], ${tasks.map(() => "DATABASE_SCHEMA_UPDATE")}::text[],
          ${tasks.map((x) => x.text)}::int[], ${tasks.map((x) => x.version)}::text[],
          ${tasks.map((x) => (x.version === null ? null : versionSortKey(x.version)))}::text[],
          ${tasks.map(() => true)}::boolean[], ${tasks.map(() => null)}::text[])
          WITH ORDINALITY AS x(s, i, d, ty, sr, v, k, rr, ao, o)
        JOIN unnest(${["CREATE TABLE a (id int)", "SELECT 1"]}::text[]) WITH ORDINALITY AS st(text, n) ON st.n = x.sr
        ORDER BY o
        RETURNING instance_id, database_name, schema_version_key
      )
      INSERT INTO gating_dirty_database (instance_id, database_name, version_from)
      SELECT instance_id, database_name, min(schema_version_key) FROM t WHERE schema_version_key IS NOT NULL
      GROUP BY 1, 2`.execute(t.db);
    const { rows } = await sql<{ database_name: string; stage_id: string; statement: string }>`
      SELECT database_name, stage_id::text, statement FROM task WHERE rollout_id = ${rollout} ORDER BY id`.execute(t.db);
    expect(rows).toEqual([
      { database_name: "d1", stage_id: stages[0]!.id, statement: "CREATE TABLE a (id int)" },
      { database_name: "d2", stage_id: stages[1]!.id, statement: "SELECT 1" },
    ]);
  });
});

/**
 * Migration 0061: runs and log entries no longer check a foreign key on every row written (issue 19: the
 * two keys were ~10% of running 10,000 tasks); every writer takes the referenced row from the same
 * statement. The keys' other half stays: a task with runs, or a run with log entries, cannot be deleted.
 */
describe("run keys checked on delete (0061)", () => {
  it("refuses to delete a task that has runs or a run that has log entries, as the keys did (23503)", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { id: "del-keys" });
    const now = new Date();
    const rolloutId = await rolloutCreate(
      t.db,
      { projectId, title: "d", createdBy: "t", stages: [{ environment: "e", tasks: [task(instanceId, "d1"), task(instanceId, "d2")] }] },
      now,
    );
    const [ran, idle] = (await t.db.selectFrom("task").select("id").where("rollout_id", "=", rolloutId).orderBy("id").execute()).map(
      (r) => r.id,
    );
    const [result] = await tasksRun(t.db, { rolloutId, taskIds: [ran!], runAt: null, actor: "t", now });
    const runId = result!.taskRunId!;
    const { rows: logged } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM task_run_log WHERE task_run_id = ${runId}`.execute(
      t.db,
    );
    expect(logged[0]!.n).toBeGreaterThan(0);

    await expect(sql`DELETE FROM task_run WHERE id = ${runId}`.execute(t.db)).rejects.toMatchObject({ code: "23503" });
    await expect(sql`DELETE FROM task WHERE id = ${ran}`.execute(t.db)).rejects.toMatchObject({ code: "23503" });
    // Without anything pointing at it, a task still goes (as it did under the key).
    await sql`DELETE FROM task WHERE id = ${idle}`.execute(t.db);
    const { rows } = await sql<{ id: string }>`SELECT id::text FROM task WHERE rollout_id = ${rolloutId}`.execute(t.db);
    expect(rows.map((r) => r.id)).toEqual([ran]);
  });
});
