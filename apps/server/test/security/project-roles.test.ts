import { beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../helpers/db.js";
import { openStream } from "../helpers/sse.js";
import { useApiApp } from "../helpers/api-app.js";
import { apiProject, apiRollout, errorOf, taskSpec, type Who } from "../helpers/api.js";

/** Per-project roles: a grant replaces the global role inside one project, in the API and the SSE stream. */
const api = useApiApp();
let base: string;
let a: { projectId: string; instanceId: string };
let b: { projectId: string; instanceId: string };

beforeAll(async () => {
  base = await api.app.listen({ port: 0, host: "127.0.0.1" });
  a = await apiProject(api.app, api.admin, "alpha");
  b = await apiProject(api.app, api.admin, "beta");
});

const grant = (projectId: string, who: Who, role: string, as: Who = api.admin) =>
  api.call(as, { method: "PUT", url: `/api/v1/projects/${projectId}/members/${who.username}`, payload: { role } });
const createIn = (who: Who, p: { projectId: string; instanceId: string }) =>
  api.call(who, {
    method: "POST",
    url: `/api/v1/projects/${p.projectId}/rollouts`,
    payload: { title: "r", stages: [{ environment: "e", tasks: [taskSpec(p.instanceId, "d")] }] },
  });

describe("roles per project", () => {
  it("a viewer made releaser in one project releases there and nowhere else; a releaser made viewer cannot release there", async () => {
    const vic = await api.user("viewer");
    const rel = await api.user("releaser");
    expect(errorOf(await grant("alpha", vic, "releaser", rel)).status).toBe(403);
    expect((await grant("alpha", vic, "releaser")).json()).toMatchObject({ username: vic.username, role: "releaser", grantedBy: "admin" });
    expect((await grant("alpha", rel, "viewer")).statusCode).toBe(200);

    const created = await createIn(vic, a);
    expect(created.statusCode, created.body).toBe(201);
    const rolloutId = created.json().id as string;
    const tasks = (await api.call(vic, { method: "GET", url: `/api/v1/rollouts/${rolloutId}/tasks` })).json().tasks as { id: string }[];
    expect(
      (await api.call(vic, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/tasks/run`, payload: { taskIds: [tasks[0]!.id] } }))
        .statusCode,
    ).toBe(200);
    const denied = errorOf(await createIn(vic, b));
    expect(denied).toMatchObject({ status: 403, code: "PERMISSION_DENIED" });
    expect(errorOf(await createIn(rel, a))).toMatchObject({
      status: 403,
      message: expect.stringContaining(`needs the releaser role in project "alpha"; ${rel.username} is viewer there`),
    });
    expect(
      errorOf(
        await api.call(rel, {
          method: "POST",
          url: `/api/v1/rollouts/${rolloutId}/tasks/skip`,
          payload: { taskIds: [tasks[0]!.id], reason: "x" },
        }),
      ).status,
    ).toBe(403);
    expect((await createIn(rel, b)).statusCode).toBe(201);

    const me = (await api.call(vic, { method: "GET", url: "/api/v1/auth/me" })).json();
    expect(me).toMatchObject({ role: "viewer", projectRoles: { alpha: "releaser" } });
    // Admins are admins everywhere: a grant cannot be given to one, and revoking restores the global role.
    expect(errorOf(await grant("alpha", api.admin, "viewer"))).toMatchObject({ status: 409 });
    expect((await api.call(api.admin, { method: "DELETE", url: `/api/v1/projects/alpha/members/${vic.username}` })).statusCode).toBe(204);
    expect(errorOf(await createIn(vic, a)).status).toBe(403);
    const members = (await api.call(api.admin, { method: "GET", url: "/api/v1/projects/alpha/members" })).json().members;
    expect(members).toEqual([expect.objectContaining({ username: rel.username, role: "viewer" })]);
    const audit = await api.db.selectFrom("audit_log").select(["action", "outcome"]).where("action", "like", "project.member.%").execute();
    expect(audit).toEqual(
      expect.arrayContaining([
        { action: "project.member.grant", outcome: "SUCCESS" },
        { action: "project.member.grant", outcome: "PERMISSION_DENIED" },
        { action: "project.member.revoke", outcome: "SUCCESS" },
      ]),
    );
  });

  it("`none` hides a project: its list entry, its rollouts, tasks and runs, and its events on the stream", async () => {
    const alphaRollout = await apiRollout(api.app, api.admin, "alpha", [[taskSpec(a.instanceId, "d1")]]);
    const betaRollout = await apiRollout(api.app, api.admin, "beta", [[taskSpec(b.instanceId, "d2")]]);
    const viewer = await api.user("viewer");
    expect((await grant("beta", viewer, "none")).statusCode).toBe(200);

    const projects = (await api.call(viewer, { method: "GET", url: "/api/v1/projects" })).json().projects.map((p: { id: string }) => p.id);
    expect(projects).toContain("alpha");
    expect(projects).not.toContain("beta");
    for (const url of [
      `/api/v1/projects/beta`,
      `/api/v1/projects/beta/rollouts`,
      `/api/v1/rollouts/${betaRollout.rolloutId}`,
      `/api/v1/rollouts/${betaRollout.rolloutId}/tasks`,
      `/api/v1/tasks/${betaRollout.taskIds[0]}`,
    ]) {
      expect(errorOf(await api.call(viewer, { method: "GET", url })), url).toMatchObject({ status: 403, code: "PERMISSION_DENIED" });
    }
    expect((await api.call(viewer, { method: "GET", url: `/api/v1/rollouts/${alphaRollout.rolloutId}/tasks` })).statusCode).toBe(200);
    // An instance only the hidden project uses is hidden too.
    const instances = (await api.call(viewer, { method: "GET", url: "/api/v1/instances" }))
      .json()
      .instances.map((i: { id: string }) => i.id);
    expect(instances).toContain(a.instanceId);
    expect(instances).not.toContain(b.instanceId);
    expect(errorOf(await api.call(viewer, { method: "GET", url: `/api/v1/instances/${b.instanceId}` })).status).toBe(404);
    expect((await api.call(api.admin, { method: "GET", url: `/api/v1/instances/${b.instanceId}` })).statusCode).toBe(200);

    const hidden = await openStream(base, `/api/v1/events?rolloutId=${betaRollout.rolloutId}`, viewer.headers);
    expect(hidden.status).toBe(403);
    expect(JSON.parse(await hidden.body()).error.code).toBe("PERMISSION_DENIED");

    const stream = await openStream(base, "/api/v1/events", viewer.headers);
    const adminStream = await openStream(base, "/api/v1/events", api.admin.headers);
    try {
      await waitFor(async () => stream.events.some((e) => e.event === "ready") && adminStream.events.some((e) => e.event === "ready"), {
        what: "ready",
      });
      // Beta changes first, then alpha: once the alpha event arrives, a beta event would have too.
      for (const r of [betaRollout, alphaRollout]) {
        expect(
          (await api.call(api.admin, { method: "POST", url: `/api/v1/rollouts/${r.rolloutId}/tasks/run`, payload: { taskIds: r.taskIds } }))
            .statusCode,
        ).toBe(200);
      }
      const changed = (s: typeof stream, id: string) =>
        s.events.some((e) => e.event === "change" && (e.data as { rolloutId: string }).rolloutId === id);
      await waitFor(
        async () =>
          changed(stream, alphaRollout.rolloutId) &&
          changed(adminStream, betaRollout.rolloutId) &&
          changed(adminStream, alphaRollout.rolloutId),
        { what: "change events" },
      );
      expect(changed(stream, betaRollout.rolloutId)).toBe(false);
    } finally {
      await stream.close();
      await adminStream.close();
    }
  });
});
