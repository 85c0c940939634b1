import { describe, expect, it } from "vitest";
import { isStrictDateTime } from "../../src/http/strict-input.js";
import { useApiApp } from "../helpers/api-app.js";
import { apiProject, apiRollout, errorOf, taskSpec } from "../helpers/api.js";

/**
 * Issue 11, hardening: strings PostgreSQL cannot store faithfully (NUL, unpaired surrogates) and dates
 * a Date cannot hold are refused at the edge, for every route and every part of the request.
 */
const api = useApiApp();

const json = { "content-type": "application/json" };

describe("lone surrogates and NUL", () => {
  it("a title with a lone surrogate is a 400 and nothing is stored (it used to be stored, its audit entry lost)", async () => {
    const before = await api.db
      .selectFrom("audit_log")
      .select(({ fn }) => fn.countAll<string>().as("n"))
      .executeTakeFirstOrThrow();
    for (const title of ["\ud800", "a\udc00b", "x\ud83d"]) {
      const res = await api.call(api.admin, { method: "POST", url: "/api/v1/projects", payload: { id: "sur", title } });
      expect(errorOf(res)).toMatchObject({ status: 400, code: "INVALID_ARGUMENT" });
      expect(errorOf(res).message).toMatch(/body\/title must not contain NUL characters or unpaired UTF-16 surrogates/);
    }
    expect(await api.db.selectFrom("project").select("id").where("id", "=", "sur").executeTakeFirst()).toBeUndefined();
    // Raw JSON with the escape, as an attacker would send it.
    const raw = await api.app.inject({
      method: "POST",
      url: "/api/v1/projects",
      headers: { ...api.admin.headers, ...json },
      payload: '{"id":"sur","title":"\\ud800"}',
    });
    expect(errorOf(raw).status).toBe(400);
    const after = await api.db
      .selectFrom("audit_log")
      .select(({ fn }) => fn.countAll<string>().as("n"))
      .executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n); // refused input is not audited, and nothing was acted on
  });

  it("a well-formed pair (emoji) is fine and audited", async () => {
    const res = await api.call(api.admin, { method: "POST", url: "/api/v1/projects", payload: { id: "rocket", title: "🚀 launch" } });
    expect(res.statusCode).toBe(201);
    const entry = await api.db
      .selectFrom("audit_log")
      .select(["outcome", "target"])
      .where("action", "=", "project.create")
      .where("target", "=", "project/rocket")
      .executeTakeFirstOrThrow();
    expect(entry.outcome).toBe("SUCCESS");
  });

  it("NUL in a login username is a 400 before any SQL (it used to reach PostgreSQL)", async () => {
    const res = await api.app.inject({
      method: "POST",
      url: "/api/v1/auth/login",
      payload: { username: "ad\u0000min", password: "whatever-pass" },
    });
    expect(errorOf(res)).toMatchObject({ status: 400, code: "INVALID_ARGUMENT" });
    expect(errorOf(res).message).toMatch(/^body\/username must not contain NUL/);
  });

  it("covers field names, nested arrays, the query string and path params", async () => {
    const key = await api.app.inject({
      method: "POST",
      url: "/api/v1/projects",
      headers: { ...api.admin.headers, ...json },
      payload: '{"id":"k","title":"t","\\ud800":1}',
    });
    expect(errorOf(key).message).toMatch(/body \(a field name\)/);
    const { projectId, instanceId } = await apiProject(api.app, api.admin, "nested");
    const nested = await api.call(api.admin, {
      method: "POST",
      url: `/api/v1/projects/${projectId}/rollouts`,
      payload: { title: "r", stages: [{ environment: "e", tasks: [taskSpec(instanceId, "db", { statement: "SELECT '\u0000'" })] }] },
    });
    expect(errorOf(nested).message).toMatch(/^body\/stages\/0\/tasks\/0\/statement must not contain/);
    const query = await api.call(api.admin, { method: "GET", url: "/api/v1/audit-log?actor=%00" });
    expect(errorOf(query).message).toMatch(/^querystring\/actor must not contain/);
    const surrogateQuery = await api.call(api.admin, { method: "GET", url: "/api/v1/audit-log?action=%ED%A0%80" });
    // Bad UTF-8 percent-encoding decodes to U+FFFD or fails: either way no lone surrogate gets through.
    expect([200, 400]).toContain(surrogateQuery.statusCode);
    const param = await api.call(api.admin, { method: "GET", url: "/api/v1/projects/a%00b" });
    expect(errorOf(param)).toMatchObject({ status: 400 });
  });
});

describe("dates", () => {
  it("runAt on a leap second is a 400 (it used to run the task at once)", async () => {
    const { projectId, instanceId } = await apiProject(api.app, api.admin, "dates");
    const { rolloutId, taskIds } = await apiRollout(api.app, api.admin, projectId, [[taskSpec(instanceId, "db")]]);
    for (const runAt of [
      "2099-12-31T23:59:60Z",
      "2030-02-30T00:00:00Z",
      "2030-13-01T00:00:00Z",
      "2030-01-01T24:00:00Z",
      "2030-01-01",
      "2030-01-01T00:00:00",
      "2030-01-01 00:00:00Z",
      "soon",
      "2030-01-01T00:00:00+24:00",
    ]) {
      const res = await api.call(api.admin, {
        method: "POST",
        url: `/api/v1/rollouts/${rolloutId}/tasks/run`,
        payload: { taskIds, runAt },
      });
      expect(errorOf(res), runAt).toMatchObject({ status: 400, code: "INVALID_ARGUMENT" });
      expect(errorOf(res).message).toMatch(/body\/runAt must match format "date-time"/);
    }
    expect(await api.db.selectFrom("task_run").select("id").where("task_id", "=", taskIds[0]!).execute()).toEqual([]);
    const ok = await api.call(api.admin, {
      method: "POST",
      url: `/api/v1/rollouts/${rolloutId}/tasks/run`,
      payload: { taskIds, runAt: "2099-12-31T23:59:59.5+01:00" },
    });
    expect(ok.statusCode).toBe(200);
    const run = await api.db
      .selectFrom("task_run")
      .select(["status", "run_at"])
      .where("task_id", "=", taskIds[0]!)
      .executeTakeFirstOrThrow();
    expect(run.status).toBe("PENDING");
    expect(run.run_at!.toISOString()).toBe("2099-12-31T22:59:59.500Z");
  });

  it("isStrictDateTime", () => {
    for (const s of ["2030-01-01T00:00:00Z", "2024-02-29T12:00:00.123456+05:30", "2030-01-01t00:00:00z"])
      expect(isStrictDateTime(s), s).toBe(true);
    for (const s of [
      "2023-02-29T00:00:00Z",
      "2030-01-01T23:59:60Z",
      "2030-01-01T00:60:00Z",
      "2030-01-01T00:00:00+0100",
      "+002030-01-01T00:00:00Z",
      "2030-1-1T00:00:00Z",
    ])
      expect(isStrictDateTime(s), s).toBe(false);
  });
});

describe("refused requests that name bad text", () => {
  it("a denial naming a NUL in the path is audited with the character replaced", async () => {
    const res = await api.app.inject({
      method: "POST",
      url: "/api/v1/rollouts/a%00b/tasks/run",
      headers: { cookie: api.admin.headers.cookie!, "x-csrf-token": "wrong" },
      payload: {},
    });
    expect(errorOf(res)).toMatchObject({ status: 403 });
    const entry = await api.db
      .selectFrom("audit_log")
      .select(["target", "outcome"])
      .where("action", "=", "tasks.run")
      .orderBy("id", "desc")
      .executeTakeFirstOrThrow();
    expect(entry).toEqual({ target: "rolloutId=a\uFFFDb", outcome: "PERMISSION_DENIED" });
  });
});
