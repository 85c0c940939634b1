import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskType } from "@runway/shared";
import { effectsOf, transitionStatement } from "../src/store/transitions/builder.js";
import { TRANSITIONS } from "../src/store/transitions/table.js";
import { taskRunsClaim } from "../src/store/transitions/claim.js";
import { taskRunsFinish } from "../src/store/transitions/owner.js";
import { createTestDatabase, type TestDatabase } from "./helpers/db.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";

/**
 * A transition statement carries only the effects its transitions can have (issue 19: fewer CTEs to plan
 * per call). What makes leaving one out safe is the `disallowed` check: a step that produces a status
 * outside its (possibly narrowed) `to` fails the whole statement, so no effect of that status can be missed.
 */

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.close();
});

describe("transition effects", () => {
  it("are derived from the transitions' from and to", () => {
    expect(effectsOf([TRANSITIONS.claim])).toEqual({
      leavePending: false,
      markCanceled: false,
      markRun: false,
      markGates: false,
      markDone: false,
      becomeAvailable: false,
      fail: false,
    });
    expect(effectsOf([TRANSITIONS.create])).toMatchObject({ leavePending: false, markRun: true, markGates: false, becomeAvailable: true });
    expect(effectsOf([TRANSITIONS.finish, TRANSITIONS.claim])).toMatchObject({
      markGates: true,
      markDone: true,
      fail: true,
      markRun: false,
    });
    expect(effectsOf([{ ...TRANSITIONS.finish, to: ["DONE"] }])).toMatchObject({ markGates: true, markDone: true, fail: false });
    expect(effectsOf([TRANSITIONS.cancelPending])).toMatchObject({
      leavePending: true,
      markCanceled: true,
      markGates: true,
      markDone: true,
    });
    expect(effectsOf([TRANSITIONS.promote])).toMatchObject({
      leavePending: true,
      markCanceled: false,
      markGates: false,
      becomeAvailable: true,
    });
  });

  it("a step that produces a status outside its narrowed `to` fails the statement and changes nothing", async () => {
    const { projectId } = await seedProject(t.db, { id: "effects" });
    await seedRollout(t.db, projectId, [task(`i-${projectId}`, "d", { type: TaskType.DATABASE_DATA_UPDATE })]);
    const now = new Date();
    const [run] = await taskRunsClaim(t.db, { replicaId: "r1", limit: 1, leaseTtlMs: 60_000, now });
    expect(run).toBeDefined();
    const finishAs = (status: string) =>
      transitionStatement({
        steps: [
          {
            name: "finish",
            to: ["DONE"],
            sql: ({ guard, returning }) => sql`
              UPDATE task_run r SET status = ${status}, finished_at = ${now}, updated_at = ${now}
              WHERE r.id = ${run!.id} AND ${guard} RETURNING ${returning}, 'test' AS reason, NULL::jsonb AS detail`,
          },
        ],
        now,
        replicaId: "r1",
      }).execute(t.db);
    await expect(finishAs("FAILED")).rejects.toThrow(/may not move it to FAILED/);
    const { rows } = await sql<{ status: string }>`SELECT status FROM task_run WHERE id = ${run!.id}`.execute(t.db);
    expect(rows[0]!.status).toBe("RUNNING");
    expect(() => transitionStatement({ steps: [{ name: "finish", to: ["PENDING"], sql: () => sql`` }], now, replicaId: null })).toThrow(
      /cannot produce PENDING/,
    );

    const written = await taskRunsFinish(
      t.db,
      [{ runId: run!.id, replicaId: "r1", epoch: run!.epoch, status: "DONE", result: null, message: "ok" }],
      {
        now,
      },
    );
    expect([...written]).toEqual([run!.id]);
    const { rows: after } = await sql<{ status: string }>`SELECT status FROM task WHERE id = ${run!.taskId}`.execute(t.db);
    expect(after[0]!.status).toBe("DONE");
  });
});
