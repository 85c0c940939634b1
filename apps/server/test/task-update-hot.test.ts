import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { TaskType } from "@runway/shared";
import type { Db } from "../src/store/db.js";
import { taskRunsClaim, taskRunsFinishAndClaim, type ClaimedRun } from "../src/store/runs.js";
import { taskList } from "../src/store/task-reads.js";
import { useTestDatabase } from "./helpers/db.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";

const t = useTestDatabase();

/**
 * Updates of `task` this session counted and has not reported yet, and how many were HOT: this transaction's
 * and possibly earlier ones' (the counts are flushed at most once a second), so the test compares two reads.
 */
async function taskUpdates(trx: Db): Promise<{ updated: number; hot: number }> {
  const { rows } = await sql<{ updated: string; hot: string }>`
    SELECT n_tup_upd AS updated, n_tup_hot_upd AS hot FROM pg_stat_xact_user_tables WHERE relname = 'task'`.execute(trx);
  return { updated: Number(rows[0]?.updated ?? 0), hot: Number(rows[0]?.hot ?? 0) };
}

const delta = (a: { updated: number; hot: number }, b: { updated: number; hot: number }) => ({
  updated: b.updated - a.updated,
  hot: b.hot - a.hot,
});

const finish = (run: ClaimedRun, status: "DONE" | "FAILED") => ({
  runId: run.id,
  replicaId: "r",
  epoch: run.epoch,
  status,
  result: {},
  message: "",
  applied: null,
});

/**
 * Every run transition mirrors the run's status into its task. No index of `task` has the status as a key
 * or in its predicate, and only DONE and CANCELED stamp `updated_at` (migration 0066), so a claim or a FAILED
 * finish rewrites no index of `task` (a HOT update); a DONE one changes `unfinished` and must write them.
 * Each transition ran ~7 index entries into `task` before (issue 19, docs/benchmarks.md §8).
 */
describe("a task's status update", () => {
  it("is HOT for a claim and a FAILED finish, not for a DONE finish, and the changed-since read sees each", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { id: "hot" });
    // Data updates under no limit: created AVAILABLE, so the claim has work without a pending pass.
    const { rolloutId } = await seedRollout(
      t.db,
      projectId,
      Array.from({ length: 3 }, (_, i) => task(instanceId, `db${i}`, { type: TaskType.DATABASE_DATA_UPDATE })),
    );
    const changedSince = async (since: Date) =>
      (await taskList(t.db, { rolloutId, changedSince: since, limit: 10, afterId: null })).tasks.map((x): [string, string] => [
        x.id,
        x.status,
      ]);

    const beforeClaim = new Date(Date.now() - 1);
    const claimed = await t.db.transaction().execute(async (trx) => {
      const before = await taskUpdates(trx);
      const runs = await taskRunsClaim(trx, { replicaId: "r", limit: 3, leaseTtlMs: 60_000, now: new Date() });
      expect(delta(before, await taskUpdates(trx))).toEqual({ updated: 3, hot: 3 });
      return runs;
    });
    expect(claimed).toHaveLength(3);
    expect((await changedSince(beforeClaim)).map(([, s]) => s)).toEqual(["RUNNING", "RUNNING", "RUNNING"]);

    const [failed, done] = claimed as [ClaimedRun, ClaimedRun, ClaimedRun];
    const beforeFinish = new Date(Date.now() - 1);
    await t.db.transaction().execute(async (trx) => {
      const claim = { replicaId: "r", limit: 0, leaseTtlMs: 60_000, now: new Date() };
      const before = await taskUpdates(trx);
      await taskRunsFinishAndClaim(trx, [finish(failed, "FAILED")], { now: new Date(), claim });
      expect(delta(before, await taskUpdates(trx))).toEqual({ updated: 1, hot: 1 });
      await taskRunsFinishAndClaim(trx, [finish(done, "DONE")], { now: new Date(), claim });
      expect(delta(before, await taskUpdates(trx))).toEqual({ updated: 2, hot: 1 });
    });
    // The DONE task is stamped; the FAILED one is found through its run (task_run_rollout_failed_idx).
    const changed = new Map(await changedSince(beforeFinish));
    expect([changed.get(failed.taskId), changed.get(done.taskId)]).toEqual(["FAILED", "DONE"]);
  });
});
