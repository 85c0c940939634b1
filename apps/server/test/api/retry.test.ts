import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PostgresExecutor } from "../../src/executors/postgres.js";
import { errorOf, taskSpec, testSecrets } from "../helpers/api.js";
import { useApiApp } from "../helpers/api-app.js";
import { createTargetDatabase, targetServerUrl, waitFor, type TargetDatabase } from "../helpers/db.js";
import { DeferredExecutor } from "../helpers/executors.js";
import { startRuntime } from "../helpers/runtime.js";

/**
 * Issue 13 over HTTP against a real target: the retry settings endpoint, a run that hits the project's
 * lock_timeout while a test session holds a lock, is retried after the backoff and succeeds once the lock
 * is gone, and the session view naming the blocker of a run waiting for a lock.
 */
const api = useApiApp();

let target: TargetDatabase;
let locker: pg.Client | undefined;
const stops: (() => Promise<void>)[] = [];
beforeEach(async () => {
  target = await createTargetDatabase();
  await target.query("CREATE TABLE accounts (id int PRIMARY KEY)");
});
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  await locker?.end().catch(() => undefined);
  locker = undefined;
  await target.drop();
});

let seq = 0;
/** A project with an instance that really reaches the target server (as the non-superuser target role). */
async function realProject(): Promise<{ projectId: string; instanceId: string }> {
  const projectId = `retry-${++seq}`;
  const instanceId = `i-${projectId}`;
  expect((await api.call(api.admin, { method: "POST", url: "/api/v1/projects", payload: { id: projectId, title: "R" } })).statusCode).toBe(
    201,
  );
  const res = await api.call(api.admin, {
    method: "POST",
    url: "/api/v1/instances",
    payload: { id: instanceId, title: "Target", connectionUrl: targetServerUrl(), projectIds: [projectId] },
  });
  expect(res.statusCode, res.body).toBe(201);
  return { projectId, instanceId };
}

/** Holds an ACCESS EXCLUSIVE lock on accounts in an open transaction until released. */
async function holdLock(): Promise<{ pid: number; release: () => Promise<void> }> {
  locker = new pg.Client({ connectionString: target.url, application_name: "test lock holder" });
  await locker.connect();
  await locker.query("BEGIN; LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE");
  const pid = (await locker.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
  const c = locker;
  return { pid, release: () => c.query("COMMIT").then(() => undefined) };
}

async function runtime(executor: () => PostgresExecutor | DeferredExecutor) {
  const own = executor();
  const r = await startRuntime({
    db: api.db,
    url: api.t.url,
    config: { replicaId: `rt-${++seq}`, concurrency: 2, pollIntervalMs: 100, leaseTtlMs: 20_000, heartbeatIntervalMs: 500 },
    executorFor: () => own,
  });
  stops.push(async () => {
    await r.stop();
    if (own instanceof PostgresExecutor) await own.close();
  });
}

async function startTask(projectId: string, instanceId: string, statement: string): Promise<string> {
  const { rolloutId, taskIds } = await api.rollout(projectId, [[taskSpec(instanceId, target.name, { statement })]]);
  const res = await api.call(api.releaser, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/tasks/run`, payload: { taskIds } });
  expect(res.statusCode, res.body).toBe(200);
  return taskIds[0]!;
}

const runsOf = async (taskId: string) =>
  (await api.call(api.viewer, { method: "GET", url: `/api/v1/tasks/${taskId}/runs` })).json().runs as {
    id: string;
    status: string;
    autoRetry?: { attempt: number; max: number };
    waitingCause?: { type: string };
  }[];

describe("retry settings API", () => {
  it("reads defaults, lets only admins change them (audited), and validates", async () => {
    const { projectId } = await realProject();
    const url = `/api/v1/projects/${projectId}/retry-policy`;
    const get = await api.call(api.viewer, { method: "GET", url });
    expect(get.json()).toEqual({ lockTimeoutMs: 0, maxAutoRetries: 3, backoffBaseMs: 1000, backoffMaxMs: 60000 });
    expect((await api.call(api.releaser, { method: "PATCH", url, payload: { maxAutoRetries: 5 } })).statusCode).toBe(403);
    const patched = await api.call(api.admin, { method: "PATCH", url, payload: { lockTimeoutMs: 2000, maxAutoRetries: 5 } });
    expect(patched.json()).toEqual({ lockTimeoutMs: 2000, maxAutoRetries: 5, backoffBaseMs: 1000, backoffMaxMs: 60000 });
    expect((await api.call(api.viewer, { method: "GET", url })).json()).toMatchObject({ lockTimeoutMs: 2000, maxAutoRetries: 5 });
    const audit = await api.db
      .selectFrom("audit_log")
      .select(["action", "target"])
      .where("action", "=", "project.retry-policy.update")
      .execute();
    expect(audit).toContainEqual({ action: "project.retry-policy.update", target: `project/${projectId}` });

    for (const payload of [{ backoffBaseMs: 70_000 }, { maxAutoRetries: -1 }, { lockTimeoutMs: 1.5 }, { other: 1 }, {}]) {
      const res = await api.call(api.admin, { method: "PATCH", url, payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(errorOf(res).code).toBe("INVALID_ARGUMENT");
    }
    expect((await api.call(api.viewer, { method: "GET", url: "/api/v1/projects/nope/retry-policy" })).statusCode).toBe(404);
  });
});

describe("a run that waits for a lock", () => {
  it("hits lock_timeout, waits RETRY_BACKOFF, is retried, and succeeds once the lock is released", async () => {
    const { projectId, instanceId } = await realProject();
    await api.call(api.admin, {
      method: "PATCH",
      url: `/api/v1/projects/${projectId}/retry-policy`,
      payload: { lockTimeoutMs: 200, maxAutoRetries: 20, backoffBaseMs: 300, backoffMaxMs: 600 },
    });
    const lock = await holdLock();
    await runtime(() => new PostgresExecutor({ statementTimeoutMs: 60_000, secrets: testSecrets }));
    const taskId = await startTask(projectId, instanceId, "ALTER TABLE accounts ADD COLUMN note text");

    // At least one automatic retry while the lock is held, seen as PENDING with RETRY_BACKOFF.
    const waiting = await waitFor(
      async () => (await runsOf(taskId)).find((r) => r.status === "PENDING" && r.waitingCause?.type === "RETRY_BACKOFF"),
      { timeoutMs: 30_000, what: "RETRY_BACKOFF" },
    );
    expect(waiting.autoRetry?.max).toBe(20);
    const logs = (await api.call(api.viewer, { method: "GET", url: `/api/v1/task-runs/${waiting.id}/logs` })).json().entries as {
      message: string;
    }[];
    expect(logs.map((l) => l.message)).toContainEqual(expect.stringMatching(/^lock timeout \(55P03\): automatic retry 1 of 20 at /));

    await lock.release();
    const done = await waitFor(async () => (await runsOf(taskId)).find((r) => r.status === "DONE"), { timeoutMs: 30_000, what: "DONE" });
    expect(done.id).toBe(waiting.id);
    expect(done.autoRetry!.attempt).toBeGreaterThanOrEqual(1);
    expect(
      await target.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'note'"),
    ).toHaveLength(1);
  });

  it("GET /task-runs/{id}/session shows the run's session waiting on a Lock and the session blocking it", async () => {
    const { projectId, instanceId } = await realProject();
    const lock = await holdLock();
    await runtime(() => new PostgresExecutor({ statementTimeoutMs: 60_000, secrets: testSecrets }));
    const taskId = await startTask(projectId, instanceId, "ALTER TABLE accounts ADD COLUMN blocked int");
    const run = await waitFor(async () => (await runsOf(taskId)).find((r) => r.status === "RUNNING"), { what: "RUNNING" });
    const url = `/api/v1/task-runs/${run.id}/session`;
    const view = await waitFor(
      async () => {
        const res = await api.call(api.viewer, { method: "GET", url });
        const body = res.json();
        return res.statusCode === 200 && body.session?.waitEventType === "Lock" && body.blockers.length > 0 && body;
      },
      { timeoutMs: 20_000, what: "the session waiting on a lock" },
    );
    expect(view.session).toMatchObject({ state: "active", waitEventType: "Lock", waitEvent: "relation" });
    expect(view.session.inStateMs).toBeGreaterThanOrEqual(0);
    expect(view.blockers).toEqual([
      expect.objectContaining({
        pid: lock.pid,
        application: "test lock holder",
        state: "idle in transaction",
        query: "SELECT pg_backend_pid() AS pid",
      }),
    ]);
    expect(view.blockers[0].transactionAgeMs).toBeGreaterThanOrEqual(0);

    await lock.release();
    await waitFor(async () => (await runsOf(taskId)).find((r) => r.status === "DONE"), { timeoutMs: 30_000, what: "DONE" });
    const after = await api.call(api.viewer, { method: "GET", url });
    expect(after.statusCode).toBe(409);
    expect(errorOf(after)).toMatchObject({ code: "RUN_NOT_RUNNING", details: { status: "DONE" } });
    expect((await api.call(api.viewer, { method: "GET", url: "/api/v1/task-runs/999999/session" })).statusCode).toBe(404);
  });

  it("answers 502 TARGET_UNREACHABLE when a RUNNING run's target cannot be read", async () => {
    const { projectId, instanceId } = await api.project(); // its instance points at 127.0.0.1:1
    const exec = new DeferredExecutor();
    await runtime(() => exec);
    const { rolloutId, taskIds } = await api.rollout(projectId, [[taskSpec(instanceId, "db")]]);
    await api.call(api.releaser, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/tasks/run`, payload: { taskIds } });
    const run = await waitFor(async () => (await runsOf(taskIds[0]!)).find((r) => r.status === "RUNNING"), { what: "RUNNING" });
    const res = await api.call(api.viewer, { method: "GET", url: `/api/v1/task-runs/${run.id}/session` });
    expect(res.statusCode).toBe(502);
    expect(errorOf(res).code).toBe("TARGET_UNREACHABLE");
    exec.finishAll();
  });
});
