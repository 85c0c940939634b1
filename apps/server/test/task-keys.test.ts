import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
});
