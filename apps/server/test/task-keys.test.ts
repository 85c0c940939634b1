import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { versionSortKey } from "@runway/shared";
import { rolloutCreate } from "../src/store/rollouts.js";
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
