import pg from "pg";
import { describe, expect, it } from "vitest";
import { Channel } from "../../src/store/db.js";
import { useApiApp } from "../helpers/api-app.js";
import { apiGating } from "../helpers/api-gating.js";
import { taskSpec } from "../helpers/api.js";

/**
 * DATABASE_BUSY names the task that holds the database now. The scheduler records the holder when a run
 * starts to wait and does not rewrite the cause for each new holder (that made a pass re-read every run
 * queued on the database: issue 19); the API reads the current holder, and the dashboards of every rollout
 * waiting there are told when one takes it.
 */
const api = useApiApp();

const { pass, run, get, causeOf, claimAndFinish } = apiGating(api);
const finish = (taskId: string) => claimAndFinish(taskId, "DONE");

/** The rollout ids the change channel announces until `until` resolves. */
async function announced(until: () => Promise<unknown>): Promise<Set<string>> {
  const client = new pg.Client({ connectionString: api.t.url });
  await client.connect();
  const ids = new Set<string>();
  client.on("notification", (n) => {
    if (n.channel === Channel.CHANGE) for (const id of JSON.parse(n.payload!).rolloutIds as string[]) ids.add(id);
  });
  try {
    await client.query(`LISTEN ${Channel.CHANGE}`);
    await until();
    // A round trip after the commit: every notification of the committed transaction was delivered before it.
    await client.query("SELECT 1");
    return ids;
  } finally {
    await client.end();
  }
}

describe("DATABASE_BUSY's holder", () => {
  it("is the task holding the database now, in task reads and in the blockers summary; the wait keeps its since", async () => {
    const { projectId, instanceId } = await api.project();
    const a = await api.rollout(projectId, [[taskSpec(instanceId, "x")]]);
    const b = await api.rollout(projectId, [[taskSpec(instanceId, "x"), taskSpec(instanceId, "x")]]);
    const c = await api.rollout(projectId, [[taskSpec(instanceId, "x")]]);
    const [a1] = a.taskIds as [string];
    const [b1, b2] = b.taskIds as [string, string];
    const [c1] = c.taskIds as [string];
    await run(a.rolloutId, [a1]);
    await pass();
    await run(b.rolloutId, [b1, b2]);
    await run(c.rolloutId, [c1]);
    await pass();
    const before = await causeOf(c1);
    expect(before).toMatchObject({ type: "DATABASE_BUSY", taskId: a1 });
    expect(await causeOf(b2)).toMatchObject({ type: "DATABASE_BUSY", taskId: a1 });

    // a1 ends and b1 takes the database: C, which has no run that changed, is told.
    await finish(a1);
    const told = await announced(pass);
    expect(told).toContain(c.rolloutId);
    expect(await causeOf(b1)).toBeUndefined();
    // The same wait (since unchanged), on the new holder.
    expect(await causeOf(c1)).toEqual({ ...before, taskId: b1 });
    expect(await causeOf(b2)).toMatchObject({ type: "DATABASE_BUSY", taskId: b1 });
    const recorded = await api.db
      .selectFrom("task_run_wait")
      .innerJoin("task_run", "task_run.id", "task_run_wait.run_id")
      .select("task_run_wait.cause")
      .where("task_run.task_id", "=", c1)
      .executeTakeFirstOrThrow();
    expect(recorded.cause).toMatchObject({ taskId: a1 }); // not rewritten: the holder is served live
    const summary = await get(`/rollouts/${c.rolloutId}/blockers`);
    expect(summary.roots).toMatchObject([{ taskId: b1, status: "AVAILABLE", held: 1 }]);

    // b1 ends: b2 is next, c1 waits on it.
    await finish(b1);
    await pass();
    expect(await causeOf(c1)).toEqual({ ...before, taskId: b2 });
    expect((await get(`/rollouts/${c.rolloutId}/blockers`)).roots).toMatchObject([{ taskId: b2, held: 1 }]);
  });
});
