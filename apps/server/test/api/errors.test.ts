import { beforeAll, describe, expect, it } from "vitest";
import { useApiApp } from "../helpers/api-app.js";
import { errorOf, taskSpec } from "../helpers/api.js";

const api = useApiApp();
let rolloutId: string;
let taskId: string;
let projectId: string;
let instanceId: string;

beforeAll(async () => {
  ({ projectId, instanceId } = await api.project());
  const r = await api.rollout(projectId, [[taskSpec(instanceId, "a")]], api.admin);
  rolloutId = r.rolloutId;
  taskId = r.taskIds[0]!;
});

const raw = (url: string, body: string, contentType = "application/json", method: "POST" | "PATCH" = "POST") =>
  api.call(api.admin, { method, url, headers: { "content-type": contentType }, payload: body });

describe("malformed requests are 4xx with the error envelope, never 5xx", () => {
  it("malformed, empty or hostile JSON: 400", async () => {
    const url = `/api/v1/rollouts/${rolloutId}/tasks/run`;
    for (const body of [
      "{",
      '{"taskIds": [',
      "",
      "nul",
      '{"taskIds": ["1"]}}',
      '{"__proto__": {"admin": true}, "taskIds": ["1"]}',
      "[".repeat(5000) + "]".repeat(5000),
    ]) {
      const res = await raw(url, body);
      expect(res.statusCode, body.slice(0, 40)).toBe(400);
      expect(res.headers["content-type"]).toMatch(/application\/json/);
      expect(errorOf(res).code).toBe("INVALID_ARGUMENT");
    }
  });

  it("oversized bodies: 413 PAYLOAD_TOO_LARGE (1 MiB; 16 MiB for rollout creation)", async () => {
    const big = JSON.stringify({ taskIds: [taskId], pad: "x".repeat(1024 * 1024) });
    expect(errorOf(await raw(`/api/v1/rollouts/${rolloutId}/tasks/run`, big))).toMatchObject({ status: 413, code: "PAYLOAD_TOO_LARGE" });
    // 2 MiB of rollout is fine for the create route…
    const statement = "SELECT 1 -- " + "x".repeat(500_000);
    const ok = await api.call(api.admin, {
      method: "POST",
      url: `/api/v1/projects/${projectId}/rollouts`,
      payload: {
        title: "big",
        stages: [{ environment: "e", tasks: Array.from({ length: 4 }, (_, i) => taskSpec(instanceId, `b${i}`, { statement })) }],
      },
    });
    expect(ok.statusCode).toBe(201);
    const huge = JSON.stringify({
      title: "huge",
      stages: [{ environment: "e", tasks: [{ ...taskSpec(instanceId, "h"), statement: "x".repeat(17 * 1024 * 1024) }] }],
    });
    expect(errorOf(await raw(`/api/v1/projects/${projectId}/rollouts`, huge)).status).toBe(413);
  });

  it("wrong content types: 415 with the error envelope", async () => {
    const res = await raw(`/api/v1/rollouts/${rolloutId}/tasks/run`, "taskIds=1", "application/x-www-form-urlencoded");
    expect(errorOf(res)).toMatchObject({ status: 415, code: "INVALID_ARGUMENT" });
    expect(errorOf(res).message).toMatch(/application\/json/);
  });

  it("unknown routes and methods: 404 NOT_FOUND", async () => {
    expect(errorOf(await api.call(api.admin, { method: "GET", url: "/api/v1/nope" }))).toMatchObject({
      status: 404,
      code: "NOT_FOUND",
      message: "no route GET /api/v1/nope",
    });
    expect(errorOf(await api.call(api.admin, { method: "PUT", url: "/api/v1/projects" })).status).toBe(404);
    expect(errorOf(await api.call(api.admin, { method: "GET", url: "/api/v1/rollouts/" + "9".repeat(300) })).status).toBeLessThan(500);
  });

  it("SQL-ish strings are data: stored as typed, nothing else happens", async () => {
    const title = "x'); DROP TABLE rollout; --";
    const created = await api.call(api.admin, { method: "POST", url: "/api/v1/projects", payload: { id: "sqlish", title } });
    expect(created.json().title).toBe(title);
    const skip = await api.call(api.admin, {
      method: "POST",
      url: `/api/v1/rollouts/${rolloutId}/tasks/skip`,
      payload: { taskIds: [taskId], reason: "'; UPDATE task SET status = 'DONE'; --" },
    });
    expect(skip.statusCode).toBe(200);
    const row = await api.db.selectFrom("task").select(["status", "skip_reason"]).where("id", "=", taskId).executeTakeFirstOrThrow();
    expect(row).toEqual({ status: "SKIPPED", skip_reason: "'; UPDATE task SET status = 'DONE'; --" });
    expect(
      errorOf(await api.call(api.admin, { method: "GET", url: `/api/v1/projects/${encodeURIComponent("x' OR '1'='1")}` })).status,
    ).toBe(400);
    expect(
      errorOf(
        await api.call(api.admin, {
          method: "GET",
          url: `/api/v1/rollouts/${rolloutId}/tasks?status=${encodeURIComponent("DONE' OR 1=1 --")}`,
        }),
      ).status,
    ).toBe(400);
  });

  it("invalid dates: 400", async () => {
    for (const runAt of [
      "2024-13-01T00:00:00Z",
      "2024-02-30T00:00:00Z",
      "yesterday",
      "1700000000",
      "2024-01-01",
      "2024-01-01T25:00:00Z",
      "",
    ]) {
      expect(
        errorOf(
          await api.call(api.admin, {
            method: "POST",
            url: `/api/v1/rollouts/${rolloutId}/tasks/run`,
            payload: { taskIds: [taskId], runAt },
          }),
        ).status,
        runAt,
      ).toBe(400);
    }
  });

  it("messages say what was wrong and where", async () => {
    const res = await api.call(api.admin, {
      method: "POST",
      url: `/api/v1/projects/${projectId}/rollouts`,
      payload: { title: "t", stages: [{ environment: "e", tasks: [{ ...taskSpec(instanceId, "d"), type: "NOPE" }] }] },
    });
    expect(errorOf(res)).toMatchObject({
      status: 400,
      code: "INVALID_ARGUMENT",
      message: "body/stages/0/tasks/0/type must be one of DATABASE_CREATE, DATABASE_SCHEMA_UPDATE, DATABASE_SDL, DATABASE_DATA_UPDATE",
      details: { errors: [{ path: "body/stages/0/tasks/0/type" }] },
    });
  });
});
