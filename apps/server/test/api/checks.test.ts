import { afterEach, describe, expect, it } from "vitest";
import type { RolloutChecks, TaskChecks } from "@runway/shared/schemas";
import type { DryRunner, DryRunResult } from "../../src/executors/dry-run.js";
import { DryRunScheduler } from "../../src/scheduler/dry-run-scheduler.js";
import { useApiApp } from "../helpers/api-app.js";
import { errorOf, taskSpec } from "../helpers/api.js";

/** Lint at creation, the checks API and its roles, and the project's check policy (issue 15). */

const api = useApiApp();

/** A dry runner that answers by statement, so the policy can be tested without a target. */
const scripted: DryRunner = {
  dryRun: async (job): Promise<DryRunResult> =>
    job.statement.includes("fails")
      ? {
          outcome: "FAILED",
          result: { error: { code: "42P01", message: 'relation "fails" does not exist' }, durationMs: 1, message: "error" },
        }
      : { outcome: "PASSED", result: { rowsAffected: [0], durationMs: 1, message: "ok" } },
};

/** Runs every queued dry run of the file's database with `scripted` (no loop, no sleeps): rounds until none is claimed. */
async function runQueuedDryRuns(): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const s = new DryRunScheduler({
      db: api.db,
      clock: { now: () => new Date() },
      replicaId: "t",
      runner: scripted,
      leaseTtlMs: 10_000,
      concurrency: 50,
    });
    const r = await s.runOnce();
    await s.drain(10_000);
    if (r.claimed === 0) return;
  }
}

const get = async <T>(url: string, who = api.viewer) => {
  const res = await api.call(who, { method: "GET", url });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as T;
};

afterEach(() => {
  delete process.env.RUNWAY_SQUAWK_BIN;
});

describe("lint at rollout creation", () => {
  it("stores squawk's and Runway's findings per task, with the offending part's position", async () => {
    const { projectId, instanceId } = await api.project();
    const statement = "ALTER TABLE t ADD COLUMN c int;\nCREATE INDEX i ON t (c);";
    const { rolloutId, taskIds } = await api.rollout(projectId, [
      [taskSpec(instanceId, "db", { statement }), taskSpec(instanceId, "db", { statement: "SELECT 1", type: "DATABASE_DATA_UPDATE" })],
    ]);
    const c = await get<TaskChecks>(`/api/v1/tasks/${taskIds[0]}/checks`);
    const idx = c.lint!.findings.find((f) => f.rule === "require-concurrent-index-creation")!;
    expect(idx).toMatchObject({ severity: "warning", source: "squawk" });
    expect(statement.slice(idx.position! - 1, idx.position! - 1 + idx.length!)).toBe("CREATE INDEX i ON t (c);");
    expect(c.lint!.findings.map((f) => f.rule)).toContain("runway-sequential-without-version");
    expect(c.lint!.worst).toBe("warning");
    expect(c.blocking).toEqual([]);
    const clean = await get<TaskChecks>(`/api/v1/tasks/${taskIds[1]}/checks`);
    expect(clean.lint).toMatchObject({ findings: [], worst: null });
    const summary = await get<RolloutChecks>(`/api/v1/rollouts/${rolloutId}/checks`);
    expect(summary.lint).toEqual({ error: 0, warning: 1, info: 0, clean: 1, unchecked: 0 });
    expect(summary.dryRun.none).toBe(2);
  });

  it("when squawk cannot run, the rollout is still created and the check says so", async () => {
    process.env.RUNWAY_SQUAWK_BIN = "/nonexistent/squawk";
    const { projectId, instanceId } = await api.project();
    const { taskIds } = await api.rollout(projectId, [[taskSpec(instanceId, "db", { statement: "CREATE INDEX i ON t (c)" })]]);
    const c = await get<TaskChecks>(`/api/v1/tasks/${taskIds[0]}/checks`);
    expect(c.lint!.error).toMatch(/squawk could not run/);
    expect(c.lint!.findings.map((f) => f.rule)).toEqual(["runway-sequential-without-version"]);
  });

  it("project rule settings apply at creation and on a re-lint", async () => {
    const { projectId, instanceId } = await api.project();
    const patch = await api.call(api.admin, {
      method: "PATCH",
      url: `/api/v1/projects/${projectId}/check-policy`,
      payload: { ruleOverrides: { "require-concurrent-index-creation": "error", "runway-sequential-without-version": "off" } },
    });
    expect(patch.statusCode, patch.body).toBe(200);
    const { rolloutId, taskIds } = await api.rollout(projectId, [[taskSpec(instanceId, "db", { statement: "CREATE INDEX i ON t (c)" })]]);
    let c = await get<TaskChecks>(`/api/v1/tasks/${taskIds[0]}/checks`);
    expect(c.lint!.findings.filter((f) => f.severity !== "info").map((f) => [f.rule, f.severity])).toEqual([
      ["require-concurrent-index-creation", "error"],
    ]);
    await api.call(api.admin, {
      method: "PATCH",
      url: `/api/v1/projects/${projectId}/check-policy`,
      payload: { ruleOverrides: { "require-concurrent-index-creation": "off" } },
    });
    const res = await api.call(api.releaser, {
      method: "POST",
      url: `/api/v1/rollouts/${rolloutId}/checks/run`,
      payload: { dryRun: false },
    });
    expect(res.json()).toEqual({ linted: 1, queued: 0, cannot: 0 });
    c = await get<TaskChecks>(`/api/v1/tasks/${taskIds[0]}/checks`);
    expect(c.lint!.findings.map((f) => f.rule)).not.toContain("require-concurrent-index-creation");
    expect(c.lint!.findings.map((f) => f.rule)).toContain("runway-sequential-without-version");
  });
});

describe("lint storage (one row per distinct result)", () => {
  it("tasks sharing a statement point at one stored result; the findings API reads the same; a re-lint of some tasks keeps the rest", async () => {
    const { projectId, instanceId } = await api.project();
    const shared = "CREATE INDEX i ON t (c)";
    const { rolloutId, taskIds } = await api.rollout(projectId, [
      [
        taskSpec(instanceId, "db1", { statement: shared }),
        taskSpec(instanceId, "db2", { statement: shared }),
        taskSpec(instanceId, "db3", { statement: shared }),
        taskSpec(instanceId, "db1", { statement: "SELECT 1", type: "DATABASE_DATA_UPDATE" }),
      ],
    ]);
    const results = async () =>
      (await api.t.pool.query<{ n: string }>("SELECT count(*) AS n FROM lint_result WHERE rollout_id = $1", [rolloutId])).rows[0]!.n;
    // Two distinct results (the shared statement's, the clean SELECT's) for four tasks.
    expect(await results()).toBe("2");
    const checks = await Promise.all(taskIds.map((id) => get<TaskChecks>(`/api/v1/tasks/${id}/checks`)));
    expect(checks[0]!.lint!.findings.map((f) => f.rule)).toContain("require-concurrent-index-creation");
    expect(checks[1]!.lint!.findings).toEqual(checks[0]!.lint!.findings);
    expect(checks[2]!.lint!.findings).toEqual(checks[0]!.lint!.findings);
    expect(checks[3]!.lint).toMatchObject({ findings: [], worst: null });
    const summary = await get<RolloutChecks>(`/api/v1/rollouts/${rolloutId}/checks`);
    expect(summary.lint).toEqual({ error: 0, warning: 3, info: 0, clean: 1, unchecked: 0 });

    // Another rule setting, then a re-lint of the first task only: it changes, the others keep theirs.
    await api.call(api.admin, {
      method: "PATCH",
      url: `/api/v1/projects/${projectId}/check-policy`,
      payload: { ruleOverrides: { "require-concurrent-index-creation": "error" } },
    });
    const res = await api.call(api.releaser, {
      method: "POST",
      url: `/api/v1/rollouts/${rolloutId}/checks/run`,
      payload: { taskIds: [taskIds[0]], dryRun: false },
    });
    expect(res.json()).toMatchObject({ linted: 1 });
    const first = await get<TaskChecks>(`/api/v1/tasks/${taskIds[0]}/checks`);
    expect(first.lint!.worst).toBe("error");
    expect((await get<TaskChecks>(`/api/v1/tasks/${taskIds[1]}/checks`)).lint!.worst).toBe("warning");
    // The old shared result is still pointed at by two tasks; nothing orphaned is kept.
    expect(await results()).toBe("3");
    await api.call(api.releaser, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/checks/run`, payload: { dryRun: false } });
    expect(await results()).toBe("2");
    expect((await get<TaskChecks>(`/api/v1/tasks/${taskIds[2]}/checks`)).lint!.worst).toBe("error");
  });

  it("still reads findings a replica of the previous release stored on the task's own row", async () => {
    const { projectId, instanceId } = await api.project();
    const { taskIds } = await api.rollout(projectId, [
      [taskSpec(instanceId, "db", { statement: "SELECT 1", type: "DATABASE_DATA_UPDATE" })],
    ]);
    const finding = { rule: "old-rule", severity: "warning", message: "from before", source: "squawk" };
    await api.t.pool.query(`UPDATE task_check SET result_id = NULL, findings = $2::jsonb, worst = 'warning' WHERE task_id = $1`, [
      taskIds[0],
      JSON.stringify([finding]),
    ]);
    const c = await get<TaskChecks>(`/api/v1/tasks/${taskIds[0]}/checks`);
    expect(c.lint).toMatchObject({ findings: [finding], worst: "warning" });
  });
});

describe("OpenAPI", () => {
  it("documents every checks route under the checks tag", async () => {
    const doc = (await api.app.inject({ method: "GET", url: "/api/openapi.json" })).json() as {
      paths: Record<string, Record<string, { tags?: string[] }>>;
      tags: { name: string }[];
    };
    for (const [method, path] of [
      ["get", "/api/v1/tasks/{taskId}/checks"],
      ["post", "/api/v1/tasks/{taskId}/checks/override"],
      ["get", "/api/v1/rollouts/{rolloutId}/checks"],
      ["post", "/api/v1/rollouts/{rolloutId}/checks/run"],
      ["get", "/api/v1/projects/{projectId}/check-policy"],
      ["patch", "/api/v1/projects/{projectId}/check-policy"],
    ] as const) {
      expect(doc.paths[path]?.[method]?.tags, `${method} ${path}`).toEqual(["checks"]);
    }
    expect(doc.tags.map((t) => t.name)).toContain("checks");
  });
});

describe("roles", () => {
  it("viewers read checks; releasers run them; only admins change the policy or override", async () => {
    const { projectId, instanceId } = await api.project();
    const { rolloutId, taskIds } = await api.rollout(projectId, [[taskSpec(instanceId, "db")]]);
    const run = (who = api.viewer) => api.call(who, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/checks/run`, payload: {} });
    expect((await run()).statusCode).toBe(403);
    expect((await run(api.releaser)).statusCode).toBe(200);
    expect((await api.call(api.viewer, { method: "GET", url: `/api/v1/rollouts/${rolloutId}/checks` })).statusCode).toBe(200);
    const policy = { method: "PATCH" as const, url: `/api/v1/projects/${projectId}/check-policy`, payload: { requireDryRun: true } };
    expect((await api.call(api.releaser, policy)).statusCode).toBe(403);
    const override = { method: "POST" as const, url: `/api/v1/tasks/${taskIds[0]}/checks/override`, payload: { reason: "x" } };
    expect((await api.call(api.releaser, override)).statusCode).toBe(403);
  });
});

describe("check policy", () => {
  const runTasks = (rolloutId: string, taskIds: string[]) =>
    api.call(api.releaser, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/tasks/run`, payload: { taskIds } });

  it("without a policy, findings never block a run", async () => {
    const { projectId, instanceId } = await api.project();
    const { rolloutId, taskIds } = await api.rollout(projectId, [[taskSpec(instanceId, "db", { statement: "CREATE INDEX i ON t (c)" })]]);
    expect((await runTasks(rolloutId, taskIds)).statusCode).toBe(200);
  });

  it("block on lint errors: 409 CHECKS_FAILED naming each task; an admin's override, with its reason, audited, lets it run", async () => {
    const { projectId, instanceId } = await api.project();
    await api.call(api.admin, {
      method: "PATCH",
      url: `/api/v1/projects/${projectId}/check-policy`,
      payload: { blockOnLintErrors: true, ruleOverrides: { "require-concurrent-index-creation": "error" } },
    });
    const { rolloutId, taskIds } = await api.rollout(projectId, [
      [
        taskSpec(instanceId, "db", { statement: "CREATE INDEX i ON t (c)" }),
        taskSpec(instanceId, "db2", { statement: "UPDATE t SET c = 1", type: "DATABASE_DATA_UPDATE" }),
      ],
    ]);
    const refused = await runTasks(rolloutId, taskIds);
    expect(refused.statusCode).toBe(409);
    const err = errorOf(refused);
    expect(err.code).toBe("CHECKS_FAILED");
    expect(err.message).toContain(`task ${taskIds[0]} has lint errors`);
    expect(err.details).toEqual({ tasks: [{ taskId: taskIds[0], failing: ["LINT_ERRORS"] }] });
    // The bulk endpoint (the dashboard's way) refuses it too, per task, and the atomic mode refuses the request.
    const bulk = (atomic: boolean) =>
      api.call(api.releaser, {
        method: "POST",
        url: `/api/v1/rollouts/${rolloutId}/tasks/bulk`,
        payload: { action: "run", taskIds: [taskIds[0]], atomic, dryRun: !atomic },
      });
    const best = await bulk(false);
    expect(best.statusCode, best.body).toBe(200);
    expect(best.json().results).toEqual([
      { taskId: taskIds[0], status: "NOT_STARTED", result: "NOT_ALLOWED", reason: "CHECKS_FAILED", failing: ["LINT_ERRORS"] },
    ]);
    expect((await bulk(true)).statusCode).toBe(409);
    // The clean task alone may run.
    expect((await runTasks(rolloutId, [taskIds[1]!])).statusCode).toBe(200);

    const ov = await api.call(api.admin, {
      method: "POST",
      url: `/api/v1/tasks/${taskIds[0]}/checks/override`,
      payload: { reason: "index on an empty table" },
    });
    expect(ov.statusCode, ov.body).toBe(204);
    const c = await get<TaskChecks>(`/api/v1/tasks/${taskIds[0]}/checks`);
    expect(c.override).toMatchObject({ by: "admin", reason: "index on an empty table" });
    expect(c.blocking).toEqual([]);
    expect((await runTasks(rolloutId, [taskIds[0]!])).statusCode).toBe(200);
    const audit = await api.db
      .selectFrom("audit_log")
      .select(["action", "target", "detail", "actor"])
      .where("action", "=", "checks.override")
      .where("target", "=", `task/${taskIds[0]}`)
      .execute();
    expect(audit).toMatchObject([{ action: "checks.override", detail: { reason: "index on an empty table" }, actor: "admin" }]);
  });

  it("require a passing dry run: refused before one, refused after a failing one, allowed after a passing one", async () => {
    const { projectId, instanceId } = await api.project();
    await api.call(api.admin, { method: "PATCH", url: `/api/v1/projects/${projectId}/check-policy`, payload: { requireDryRun: true } });
    const { rolloutId, taskIds } = await api.rollout(projectId, [
      [
        taskSpec(instanceId, "db", { statement: "UPDATE t SET c = 1", type: "DATABASE_DATA_UPDATE" }),
        taskSpec(instanceId, "db2", { statement: "UPDATE fails SET c = 1", type: "DATABASE_DATA_UPDATE" }),
        taskSpec(instanceId, "db3", { statement: "VACUUM t", type: "DATABASE_DATA_UPDATE" }),
      ],
    ]);
    let err = errorOf(await runTasks(rolloutId, taskIds));
    expect(err.details).toEqual({
      tasks: [
        { taskId: taskIds[0], failing: ["DRY_RUN_REQUIRED"] },
        { taskId: taskIds[1], failing: ["DRY_RUN_REQUIRED"] },
        { taskId: taskIds[2], failing: ["DRY_RUN_REQUIRED"] },
      ],
    });
    const res = await api.call(api.releaser, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/checks/run`, payload: {} });
    expect(res.json()).toEqual({ linted: 3, queued: 2, cannot: 1 });
    // Queued is not passed.
    expect(errorOf(await runTasks(rolloutId, [taskIds[0]!])).code).toBe("CHECKS_FAILED");
    await runQueuedDryRuns();
    const summary = await get<RolloutChecks>(`/api/v1/rollouts/${rolloutId}/checks`);
    expect(summary.dryRun).toMatchObject({ passed: 1, failed: 1, cannot: 1, queued: 0, running: 0 });
    expect(summary.policy).toEqual({ blockOnLintErrors: false, requireDryRun: true });
    err = errorOf(await runTasks(rolloutId, taskIds));
    expect(err.details).toEqual({ tasks: [{ taskId: taskIds[1], failing: ["DRY_RUN_FAILED"] }] });
    expect(err.message).toContain(`task ${taskIds[1]} failed its dry run`);
    // The passing task and the one that cannot be dry-run may run.
    expect((await runTasks(rolloutId, [taskIds[0]!, taskIds[2]!])).statusCode).toBe(200);
  });
});
