import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TaskChecks } from "@runway/shared/schemas";
import { PostgresExecutor } from "../src/executors/postgres.js";
import { useApiApp } from "./helpers/api-app.js";
import { taskSpec, testSecrets } from "./helpers/api.js";
import { createTargetDatabase, targetServerUrl, waitFor, type TargetDatabase } from "./helpers/db.js";
import { startRuntime } from "./helpers/runtime.js";

/** Dry runs of real statements on a real target, through the API and a replica's dry-run loop (issue 15). */

const api = useApiApp();
let target: TargetDatabase;
let executor: PostgresExecutor;
let rt: Awaited<ReturnType<typeof startRuntime>>;
let projectId: string;
let instanceId: string;

beforeAll(async () => {
  target = await createTargetDatabase("dryrun");
  await target.query(
    "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 5) g",
  );
  projectId = "dry";
  instanceId = "i-dry";
  for (const [url, payload] of [
    ["/api/v1/projects", { id: projectId, title: "Dry runs", parallelTasksPerRollout: 0 }],
    ["/api/v1/instances", { id: instanceId, title: "Target", connectionUrl: targetServerUrl(), projectIds: [projectId] }],
  ] as const) {
    const res = await api.call(api.admin, { method: "POST", url, payload });
    expect(res.statusCode, res.body).toBe(201);
  }
  executor = new PostgresExecutor({ statementTimeoutMs: 60_000, secrets: testSecrets });
  rt = await startRuntime({
    db: api.db,
    url: api.t.url,
    config: { replicaId: "dry-1", pollIntervalMs: 200, leaseTtlMs: 10_000, heartbeatIntervalMs: 500 },
    executorFor: () => executor,
    dryRunner: executor,
  });
});
afterAll(async () => {
  await rt?.stop();
  await executor?.close();
  await target?.drop();
});

async function dryRun(statement: string, type = "DATABASE_DATA_UPDATE"): Promise<TaskChecks> {
  const { rolloutId, taskIds } = await api.rollout(projectId, [[taskSpec(instanceId, target.name, { statement, type })]]);
  const res = await api.call(api.releaser, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/checks/run`, payload: {} });
  expect(res.statusCode, res.body).toBe(200);
  return waitFor(
    async () => {
      const c = (await api.call(api.viewer, { method: "GET", url: `/api/v1/tasks/${taskIds[0]}/checks` })).json() as TaskChecks;
      return c.dryRun && !["QUEUED", "RUNNING"].includes(c.dryRun.status) ? c : null;
    },
    { timeoutMs: 30_000, what: "the dry run's result" },
  );
}

describe("dry runs on a real target", () => {
  it("success: rows each statement would affect, and nothing committed (no table, no ledger)", async () => {
    const c = await dryRun(
      "CREATE TABLE dry_new (id int); INSERT INTO dry_new VALUES (1), (2), (3); UPDATE items SET name = 'x' WHERE id <= 2",
    );
    expect(c.dryRun).toMatchObject({ status: "DONE", outcome: "PASSED", rowsAffected: [0, 3, 2] });
    expect(await target.query("SELECT to_regclass('dry_new') AS t, to_regclass('runway_ledger') AS l")).toEqual([{ t: null, l: null }]);
    expect(await target.query("SELECT count(*)::int AS n FROM items WHERE name = 'x'")).toEqual([{ n: 0 }]);
  });

  it("syntax error: PostgreSQL's code and message", async () => {
    const c = await dryRun("DO $$ BEGIN SELEC 1; END $$");
    expect(c.dryRun).toMatchObject({ outcome: "FAILED", error: { code: "42601" } });
    expect(c.dryRun!.error!.message).toMatch(/syntax error/);
  });

  it("an error with its position in the task's statement", async () => {
    const c = await dryRun("UPDATE items SET name = 'y' WHERE id = 1; SELECT nope FROM items");
    expect(c.dryRun).toMatchObject({ outcome: "FAILED", error: { code: "42703", position: 50 } });
  });

  it("permission error: the instance's role is used, not a superuser", async () => {
    const c = await dryRun("CREATE ROLE dry_run_role", "DATABASE_SCHEMA_UPDATE");
    expect(c.dryRun).toMatchObject({ outcome: "FAILED", error: { code: "42501" } });
  });

  it("lock timeout: a statement waiting behind a lock fails fast instead of queueing behind it", async () => {
    const holder = new pg.Client({ connectionString: target.url });
    await holder.connect();
    try {
      await holder.query("BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE");
      const c = await dryRun("ALTER TABLE items ADD COLUMN extra int", "DATABASE_SCHEMA_UPDATE");
      expect(c.dryRun).toMatchObject({ outcome: "FAILED", error: { code: "55P03" } });
      expect(c.dryRun!.message).toMatch(/^lock timeout/);
    } finally {
      await holder.end();
    }
  });

  it("a statement that cannot run in a transaction is reported, never executed", async () => {
    const c = await dryRun("CREATE INDEX CONCURRENTLY items_name_idx ON items (name)");
    expect(c.dryRun).toMatchObject({ status: "CANNOT", outcome: "CANNOT_DRY_RUN" });
    expect(await target.query("SELECT indexname FROM pg_indexes WHERE indexname = 'items_name_idx'")).toEqual([]);
    expect(c.lint?.findings.map((f) => f.rule)).toContain("runway-no-transaction");
  });
});
