import { describe, expect, it } from "vitest";
import { useApiApp } from "../helpers/api-app.js";
import { apiRollout, errorOf, taskSpec } from "../helpers/api.js";

const api = useApiApp();

const rolloutCount = async () =>
  Number(
    (
      await api.db
        .selectFrom("rollout")
        .select((e) => e.fn.countAll().as("n"))
        .executeTakeFirstOrThrow()
    ).n,
  );

describe("POST /projects/:projectId/rollouts", () => {
  it("creates stages of NOT_STARTED tasks and returns the rollout with counts; records the creator", async () => {
    const { projectId, instanceId } = await api.project();
    const res = await api.call(api.releaser, {
      method: "POST",
      url: `/api/v1/projects/${projectId}/rollouts`,
      payload: {
        title: "Add status",
        stages: [
          {
            environment: "staging",
            tasks: [
              taskSpec(instanceId, "orders_staging", { schemaVersion: "0007" }),
              taskSpec(instanceId, "new_db", { type: "DATABASE_CREATE", statement: "" }),
            ],
          },
          { environment: "prod", tasks: [taskSpec(instanceId, "orders", { schemaVersion: "0007" })] },
        ],
      },
    });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({
      projectId,
      title: "Add status",
      createdBy: api.releaser.username,
      statusCounts: { NOT_STARTED: 3, PENDING: 0, SKIPPED: 0 },
    });
    expect(body.id).toMatch(/^[1-9][0-9]*$/);
    expect(
      body.stages.map((s: { environment: string; statusCounts: { NOT_STARTED: number } }) => [s.environment, s.statusCounts.NOT_STARTED]),
    ).toEqual([
      ["staging", 2],
      ["prod", 1],
    ]);
    expect(Date.parse(body.createdAt)).not.toBeNaN();
    // Admins may create too; viewers may not.
    expect(
      (
        await api.call(api.admin, {
          method: "POST",
          url: `/api/v1/projects/${projectId}/rollouts`,
          payload: { title: "a", stages: [{ environment: "e", tasks: [taskSpec(instanceId, "d")] }] },
        })
      ).statusCode,
    ).toBe(201);
    const denied = await api.call(api.viewer, {
      method: "POST",
      url: `/api/v1/projects/${projectId}/rollouts`,
      payload: { title: "v", stages: [{ environment: "e", tasks: [taskSpec(instanceId, "d")] }] },
    });
    expect(errorOf(denied)).toMatchObject({ status: 403, code: "PERMISSION_DENIED" });
  });

  it("unknown project or instance is a 404 and creates nothing; bad shapes are 400s", async () => {
    const { projectId, instanceId } = await api.project();
    const before = await rolloutCount();
    const post = (pid: string, payload: unknown) =>
      api.call(api.releaser, { method: "POST", url: `/api/v1/projects/${pid}/rollouts`, payload: payload as object });
    const stage = (tasks: unknown[]) => ({ title: "t", stages: [{ environment: "e", tasks }] });
    expect(errorOf(await post("nope", stage([taskSpec(instanceId, "d")])))).toMatchObject({
      status: 404,
      message: 'project "nope" not found',
    });
    expect(errorOf(await post(projectId, stage([taskSpec("i-missing", "d")])))).toMatchObject({
      status: 404,
      code: "NOT_FOUND",
      details: { instanceIds: ["i-missing"] },
    });
    const cases: [unknown, RegExp][] = [
      [{ title: "t", stages: [] }, /body\/stages must NOT have fewer than 1 items/],
      [stage([]), /body\/stages\/0\/tasks must NOT have fewer than 1 items/],
      [stage([{ ...taskSpec(instanceId, "d"), type: "DROP_EVERYTHING" }]), /body\/stages\/0\/tasks\/0\/type must be one of/],
      [stage([taskSpec(instanceId, "d", { statement: "   " })]), /statement must not be blank for DATABASE_SCHEMA_UPDATE/],
      [stage([taskSpec(instanceId, "d", { schemaVersion: "../../etc" })]), /schemaVersion/],
      [stage([taskSpec(instanceId, "d", { schemaVersion: "" })]), /schemaVersion/],
      [stage([taskSpec(instanceId, "d; DROP TABLE task; --")]), /database must match pattern/],
      [stage([taskSpec(instanceId, "x".repeat(64))]), /database/],
      [stage([{ ...taskSpec(instanceId, "d"), extra: true }]), /unknown field "extra"/],
      [{ ...stage([taskSpec(instanceId, "d")]), title: "" }, /body\/title/],
      [stage([taskSpec(instanceId, "d", { statement: "SELECT '\u0000'" })]), /must not contain NUL/],
    ];
    for (const [payload, message] of cases) {
      const err = errorOf(await post(projectId, payload));
      expect(err.status, JSON.stringify(payload).slice(0, 200)).toBe(400);
      expect(err.message).toMatch(message);
    }
    const tooMany = {
      title: "t",
      stages: [{ environment: "e", tasks: Array.from({ length: 10001 }, (_, i) => taskSpec(instanceId, `d${i}`)) }],
    };
    expect(errorOf(await post(projectId, tooMany)).status).toBe(400);
    const tooManySplit = {
      title: "t",
      stages: Array.from({ length: 3 }, () => ({
        environment: "e",
        tasks: Array.from({ length: 3400 }, (_, i) => taskSpec(instanceId, `d${i}`)),
      })),
    };
    expect(errorOf(await post(projectId, tooManySplit)).message).toMatch(/10200 tasks; at most 10000/);
    expect(await rolloutCount()).toBe(before);
  });
});

describe("GET rollouts", () => {
  it("lists a project's rollouts newest first, paged, with status counts", async () => {
    const { projectId, instanceId } = await api.project();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await apiRollout(api.app, api.releaser, projectId, [[taskSpec(instanceId, "a"), taskSpec(instanceId, "b")]])).rolloutId);
    await api.call(api.releaser, {
      method: "POST",
      url: `/api/v1/rollouts/${ids[2]}/tasks/skip`,
      payload: { taskIds: [(await apiTaskIds(ids[2]!))[0]], reason: "r" },
    });
    const p1 = (await api.call(api.viewer, { method: "GET", url: `/api/v1/projects/${projectId}/rollouts?pageSize=2` })).json();
    expect(p1.rollouts.map((r: { id: string }) => r.id)).toEqual([ids[2], ids[1]]);
    expect(p1.rollouts[0].statusCounts).toMatchObject({ NOT_STARTED: 1, SKIPPED: 1 });
    expect(p1.nextPageToken).toEqual(expect.any(String));
    const p2 = (
      await api.call(api.viewer, { method: "GET", url: `/api/v1/projects/${projectId}/rollouts?pageSize=2&pageToken=${p1.nextPageToken}` })
    ).json();
    expect(p2).toMatchObject({ rollouts: [{ id: ids[0], statusCounts: { NOT_STARTED: 2 } }], nextPageToken: null });
    expect(errorOf(await api.call(api.viewer, { method: "GET", url: "/api/v1/projects/nope/rollouts" })).status).toBe(404);
    for (const q of ["pageSize=0", "pageSize=1001", "pageSize=abc", "pageToken=%27%20OR%201%3D1", "sort=id"]) {
      expect(errorOf(await api.call(api.viewer, { method: "GET", url: `/api/v1/projects/${projectId}/rollouts?${q}` })).status, q).toBe(
        400,
      );
    }
    expect(errorOf(await api.app.inject({ method: "GET", url: `/api/v1/projects/${projectId}/rollouts` })).status).toBe(401);
  });

  it("GET /rollouts/:rolloutId: stages in order with counts; unknown 404; malformed 400", async () => {
    const { projectId, instanceId } = await api.project();
    const { rolloutId, stageIds } = await apiRollout(api.app, api.releaser, projectId, [
      [taskSpec(instanceId, "a")],
      [taskSpec(instanceId, "b"), taskSpec(instanceId, "c")],
    ]);
    const res = await api.call(api.viewer, { method: "GET", url: `/api/v1/rollouts/${rolloutId}` });
    expect(res.json()).toMatchObject({ id: rolloutId, projectId, createdBy: api.releaser.username, statusCounts: { NOT_STARTED: 3 } });
    expect(res.json().stages).toEqual([
      expect.objectContaining({
        id: stageIds[0],
        environment: "env0",
        position: 0,
        statusCounts: expect.objectContaining({ NOT_STARTED: 1 }),
      }),
      expect.objectContaining({
        id: stageIds[1],
        environment: "env1",
        position: 1,
        statusCounts: expect.objectContaining({ NOT_STARTED: 2 }),
      }),
    ]);
    expect(errorOf(await api.call(api.viewer, { method: "GET", url: "/api/v1/rollouts/999999999999" })).status).toBe(404);
    for (const id of ["abc", "0", "-1", "1.5", "99999999999999999999", "1%20OR%201=1"]) {
      expect(errorOf(await api.call(api.viewer, { method: "GET", url: `/api/v1/rollouts/${id}` })).status, id).toBe(400);
    }
  });
});

async function apiTaskIds(rolloutId: string): Promise<string[]> {
  const res = await api.call(api.admin, { method: "GET", url: `/api/v1/rollouts/${rolloutId}/tasks` });
  return res.json().tasks.map((x: { id: string }) => x.id);
}
