import { WaitingCauseType } from "@runway/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "./helpers/db.js";
import { sql } from "kysely";

/**
 * The database accepts every waiting cause the pending scheduler can write, and only those: several
 * migrations of one release each re-create task_run_wait's type check, and the last one must list them all.
 */
describe("task_run_wait type check", () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(() => t.close());

  it("lists exactly the waiting causes of WaitingCauseType", async () => {
    const { rows } = await sql<{ def: string }>`
      SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'task_run_wait_type_check'`.execute(t.db);
    expect(rows).toHaveLength(1);
    const listed = [...rows[0]!.def.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]).sort();
    expect(listed).toEqual(Object.values(WaitingCauseType).sort());
  });
});
