import { describe, expect, it } from "vitest";
import { sql } from "kysely";
import { TaskType } from "@runway/shared";
import { gatingLoadAllPending } from "../src/store/gating.js";
import { blockerJoin } from "../src/store/gating-candidates.js";
import { rolloutCreate } from "../src/store/rollouts.js";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { taskRunFinish, taskRunsClaim } from "../src/store/runs.js";
import { tasksRun, tasksSkip } from "../src/store/task-actions.js";
import type { Db } from "../src/store/db.js";
import { useTestDatabase } from "./helpers/db.js";
import { seedProject, task } from "./helpers/fixtures.js";

/**
 * Issue 19: the full pass finds every versioned run's blocker (the nearest smaller unfinished version on its
 * database) in one ordered scan of the open versions instead of one index probe per run. It must name
 * exactly the task the live pass's probe names, for every PENDING run, including duplicate versions, finished
 * and skipped versions in between, unversioned runs, and a run whose own task is not open any more.
 */
const t = useTestDatabase();

/** Each PENDING run's blocker as the probe (blockerJoin, the live read's) finds it. */
async function probed(db: Db): Promise<Map<string, string | null>> {
  const { rows } = await sql<{ id: string; blocker: string | null; version: string | null; status: string | null }>`
    SELECT r.id, vb.id AS blocker, vb.schema_version AS version, vb.status FROM task_run r ${blockerJoin}
    WHERE r.status = 'PENDING'`.execute(db);
  return new Map(rows.map((r) => [r.id, r.blocker === null ? null : `${r.blocker} ${r.version} ${r.status}`]));
}

async function fromFullRead(db: Db): Promise<Map<string, string | null>> {
  const candidates = await db.transaction().execute((trx) => gatingLoadAllPending(trx));
  return new Map(
    candidates.map((c) => [
      c.runId,
      c.versionBlocker === null ? null : `${c.versionBlocker.taskId} ${c.versionBlocker.schemaVersion} ${c.versionBlocker.status}`,
    ]),
  );
}

describe("the full pass's version blockers", () => {
  it("are the probe's for every PENDING run", async () => {
    const clock = new Date("2030-01-01T00:00:00Z");
    const { instanceId: i1 } = await seedProject(t.db, { id: "p1" });
    const { instanceId: i2 } = await seedProject(t.db, { id: "p2" });
    // Rollouts over the same databases: versions repeat across rollouts (and twice within one), so several
    // open tasks share a version on one database; every fourth task is a data change without one.
    const versions = ["0001", "0002", "0002", "0003", "0005", "0004", "0010", "0009"];
    const rollouts: { id: string; tasks: string[] }[] = [];
    for (const [projectId, instanceId, suffix] of [
      ["p1", i1, ""],
      ["p1", i1, ".1"],
      ["p1", i1, ""],
      ["p2", i2, ""],
    ] as const) {
      const tasks = ["a", "b"].flatMap((database) =>
        versions.map((v, k) =>
          task(
            instanceId,
            database,
            k % 4 === 3 ? { type: TaskType.DATABASE_DATA_UPDATE } : { schemaVersion: `${v}${k % 2 ? suffix : ""}` },
          ),
        ),
      );
      const id = await rolloutCreate(t.db, { projectId, title: "r", createdBy: "t", stages: [{ environment: "test", tasks }] }, clock);
      const ids = (await t.db.selectFrom("task").select("id").where("rollout_id", "=", id).orderBy("id").execute()).map((x) => x.id);
      rollouts.push({ id, tasks: ids });
    }
    // Rollouts 0, 2 and 3 run; rollout 1's tasks stay NOT_STARTED (open, so they block too) but some are skipped.
    for (const r of [rollouts[0]!, rollouts[2]!, rollouts[3]!])
      await tasksRun(t.db, { rolloutId: r.id, taskIds: r.tasks, runAt: null, actor: "t", now: clock });
    const r1 = rollouts[1]!;
    await tasksSkip(t.db, { rolloutId: r1.id, taskIds: r1.tasks.filter((_, k) => k % 5 === 1), reason: "t", now: clock });
    // Two rounds of passes whose promoted runs finish DONE: the lowest versions are done, the nearest open one is further up.
    const scheduler = new PendingScheduler({ db: t.db, clock: { now: () => clock }, replicaId: "p", fullPassIntervalMs: 1e12 });
    for (let round = 0; round < 2; round++) {
      await scheduler.runOnce({ full: true });
      const claimed = await taskRunsClaim(t.db, { replicaId: "w", limit: 1000, leaseTtlMs: 60_000, now: clock });
      for (const c of claimed)
        await taskRunFinish(t.db, { runId: c.id, replicaId: "w", epoch: c.epoch, status: "DONE", result: {}, message: "", now: clock });
    }
    // A PENDING run whose own task is no longer open (the store never does this; the read must still agree).
    const { rows: pending } = await sql<{ task_id: string }>`
      SELECT r.task_id FROM task_run r WHERE r.status = 'PENDING' AND r.schema_version_key IS NOT NULL ORDER BY r.id LIMIT 1`.execute(t.db);
    await sql`UPDATE task SET status = 'SKIPPED', skipped = true WHERE id = ${pending[0]!.task_id}`.execute(t.db);

    const expected = await probed(t.db);
    const got = await fromFullRead(t.db);
    expect(got.size).toBe(expected.size);
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(expected));
    // The setup reached what the test is about: blocked and unblocked runs, a blocker among duplicate
    // versions, and finished and skipped versions below open ones.
    const blockers = [...expected.values()];
    expect(blockers.filter((b) => b !== null).length).toBeGreaterThan(10);
    expect(blockers.filter((b) => b === null).length).toBeGreaterThan(0);
    expect(blockers.some((b) => b?.includes(" 0002 "))).toBe(true);
    const { rows: statuses } = await sql<{ status: string }>`
      SELECT DISTINCT status FROM task WHERE schema_version IS NOT NULL`.execute(t.db);
    expect(statuses.map((r) => r.status)).toEqual(expect.arrayContaining(["DONE", "SKIPPED", "NOT_STARTED"]));
  });
});
