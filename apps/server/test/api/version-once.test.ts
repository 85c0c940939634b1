import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PostgresExecutor } from "../../src/executors/postgres.js";
import { useApiApp } from "../helpers/api-app.js";
import { testSecrets } from "../helpers/api.js";
import { createTargetDatabase, targetServerUrl, waitFor, type TargetDatabase } from "../helpers/db.js";
import { startRuntime } from "../helpers/runtime.js";

/**
 * A schema version is applied once per database, whichever rollout brings it: a task of the JSON API whose
 * version the target's ledger already records under another task is not applied again. With the same
 * content it is DONE (already applied, by that task); with other content it FAILs, as a release's changed
 * file does. Before, only tasks planned from a release checked, and a second rollout's 0700 ran again.
 */
const api = useApiApp();
const prefix = `vo${randomBytes(3).toString("hex")}`;
const instanceId = `i-${prefix}`;
let target: TargetDatabase;
let projectId = "";
let rt: Awaited<ReturnType<typeof startRuntime>>;
let executor: PostgresExecutor;

beforeAll(async () => {
  target = await createTargetDatabase(prefix);
  projectId = (await api.project()).projectId;
  const res = await api.call(api.admin, {
    method: "POST",
    url: "/api/v1/instances",
    payload: { id: instanceId, title: "Target", connectionUrl: targetServerUrl(), projectIds: [projectId] },
  });
  expect(res.statusCode, res.body).toBe(201);
  executor = new PostgresExecutor({ statementTimeoutMs: 60_000, secrets: testSecrets });
  rt = await startRuntime({
    db: api.db,
    url: api.t.url,
    config: { replicaId: `vo-${prefix}`, pollIntervalMs: 200 },
    executorFor: () => executor,
    dryRunner: executor,
  });
});
afterAll(async () => {
  await rt?.stop();
  await executor?.close();
  await target?.drop();
});

type Task = { id: string; rolloutId: string; status: string; latestRun?: { id: string; result?: Record<string, unknown> } };

/** Creates a rollout of one versioned task on the target; its task, and a way to read it again. */
async function create(version: string, statement: string): Promise<{ task: Task; list: () => Promise<Task[]> }> {
  const created = await api.call(api.releaser, {
    method: "POST",
    url: `/api/v1/projects/${projectId}/rollouts`,
    payload: {
      title: `version ${version}`,
      stages: [
        {
          environment: "prod",
          tasks: [{ type: "DATABASE_SCHEMA_UPDATE", instanceId, database: target.name, statement, schemaVersion: version }],
        },
      ],
    },
  });
  expect(created.statusCode, created.body).toBe(201);
  const rolloutId = created.json().id as string;
  const list = async () =>
    (await api.call(api.viewer, { method: "GET", url: `/api/v1/rollouts/${rolloutId}/tasks` })).json().tasks as Task[];
  const [task] = await list();
  return { task: task!, list };
}

/** Creates a rollout of one versioned task on the target, runs it and waits for its end. */
async function rollOut(version: string, statement: string): Promise<Task> {
  const { task, list } = await create(version, statement);
  const run = await api.call(api.releaser, {
    method: "POST",
    url: `/api/v1/rollouts/${task.rolloutId}/tasks/run`,
    payload: { taskIds: [task.id] },
  });
  expect(run.statusCode, run.body).toBeLessThan(300);
  return waitFor(
    async () => {
      const [t] = await list();
      return t && ["DONE", "FAILED", "CANCELED"].includes(t.status) ? t : null;
    },
    { timeoutMs: 30_000, what: `version ${version} ended` },
  );
}

it(
  "a version another rollout applied is not applied again: DONE with the same content, FAILED with other",
  { timeout: 120_000 },
  async () => {
    const first = await rollOut("0700", "CREATE TABLE t700 (id int)");
    expect(first.status).toBe("DONE");
    expect(first.latestRun?.result).not.toHaveProperty("alreadyApplied");

    // The same change again, its version written another way (0700 = 700): CREATE TABLE would fail on 42P07.
    const again = await rollOut("700", "CREATE TABLE t700 (id int)");
    expect(again.status).toBe("DONE");
    expect(again.latestRun?.result).toMatchObject({ alreadyApplied: true, byTask: first.id });
    // The run's log says so, in the DONE entry the dashboard words ("already applied by task …").
    const logs = await api.call(api.viewer, { method: "GET", url: `/api/v1/task-runs/${again.latestRun!.id}/logs` });
    const done = (logs.json().entries as { type: string; event: { to: string } | null; data: { result?: unknown } }[]).find(
      (e) => e.type === "STATUS" && e.event?.to === "DONE",
    );
    expect(done?.data.result).toMatchObject({ alreadyApplied: true, byTask: first.id });

    // Other content under a version the database has: never run.
    const other = await rollOut("0700", "CREATE TABLE t700_other (id int)");
    expect(other.status).toBe("FAILED");
    expect(other.latestRun?.result).toMatchObject({ error: { code: "VERSION_APPLIED_WITH_OTHER_CONTENT" }, byTask: first.id });
    const [exists] = await target.query<{ t: string | null }>(`SELECT to_regclass('t700_other')::text AS t`);
    expect(exists!.t).toBeNull();
    // As any FAILED version, it holds the database's later versions until it is dealt with: skipped here.
    const skip = await api.call(api.releaser, {
      method: "POST",
      url: `/api/v1/rollouts/${other.rolloutId}/tasks/skip`,
      payload: { taskIds: [other.id], reason: "0700 is applied; this was a copy with other content" },
    });
    expect(skip.statusCode, skip.body).toBeLessThan(300);

    // A statement run outside a transaction takes the same check before it is sent.
    const index = await rollOut("0800", "CREATE INDEX CONCURRENTLY i800 ON t700 (id)");
    expect(index.status).toBe("DONE");
    const indexAgain = await rollOut("0800", "CREATE INDEX CONCURRENTLY i800 ON t700 (id)");
    expect(indexAgain.status).toBe("DONE");
    expect(indexAgain.latestRun?.result).toMatchObject({ alreadyApplied: true, byTask: index.id });

    // A new version runs.
    const next = await rollOut("0701", "ALTER TABLE t700 ADD COLUMN note text");
    expect(next.status).toBe("DONE");
    expect(next.latestRun?.result).not.toHaveProperty("alreadyApplied");
  },
);

it("a dry run of a version the database has asks the ledger first, as the run would, and runs nothing", { timeout: 120_000 }, async () => {
  const applied = await rollOut("0900", "CREATE TABLE t900 (id int)");
  expect(applied.status).toBe("DONE");
  type Checks = {
    dryRun: { status: string; outcome: string; alreadyApplied?: boolean; byTask?: string; error?: { code?: string } } | null;
  };
  const dryRun = async (statement: string) => {
    const { task } = await create("0900", statement);
    const queued = await api.call(api.releaser, {
      method: "POST",
      url: `/api/v1/rollouts/${task.rolloutId}/checks/run`,
      payload: { taskIds: [task.id] },
    });
    expect(queued.statusCode, queued.body).toBeLessThan(300);
    return waitFor(
      async () => {
        const c = (await api.call(api.viewer, { method: "GET", url: `/api/v1/tasks/${task.id}/checks` })).json() as Checks;
        return c.dryRun?.status === "DONE" ? c.dryRun : null;
      },
      { timeoutMs: 30_000, what: "the dry run's end" },
    );
  };
  // Executed, CREATE TABLE would fail (42P07): the dry run passes as the run will be DONE, naming who applied it.
  expect(await dryRun("CREATE TABLE t900 (id int)")).toMatchObject({ outcome: "PASSED", alreadyApplied: true, byTask: applied.id });
  // Other content: fails as the run will, and was never sent (the statement itself would pass).
  expect(await dryRun("SELECT 1")).toMatchObject({
    outcome: "FAILED",
    byTask: applied.id,
    error: { code: "VERSION_APPLIED_WITH_OTHER_CONTENT" },
  });
});
