import { describe, expect, it } from "vitest";
import { useApiApp } from "../helpers/api-app.js";
import { errorOf, taskSpec } from "../helpers/api.js";

const api = useApiApp();

const UNKNOWN = "987654321987";
/** Every read under a project, rollout, task or run (issue 14: an unknown id is a 404, never an empty list). */
const READS = [
  "/projects/:p",
  "/projects/:p/rollouts",
  "/projects/:p/releases",
  "/projects/:p/releases/1",
  "/projects/:p/database-groups",
  "/projects/:p/database-groups/g/resolution",
  "/projects/:p/policies",
  "/projects/:p/instances",
  "/projects/:p/members", // admin only: a viewer is refused (403) before anything is looked up
  "/projects/:p/webhooks", // admin only
  "/projects/:p/webhooks/1/deliveries", // admin only
  "/projects/:p/retry-policy",
  "/projects/:p/check-policy",
  "/rollouts/:r",
  "/rollouts/:r/tasks",
  "/rollouts/:r/tasks/failure-groups",
  "/rollouts/:r/tasks/export",
  "/rollouts/:r/blockers",
  "/rollouts/:r/checks",
  "/rollouts/:r/gates",
  "/tasks/:t",
  "/tasks/:t/runs",
  "/tasks/:t/checks",
  "/task-runs/:x",
  "/task-runs/:x/logs",
  "/task-runs/:x/session",
];

describe("reads under an unknown parent", () => {
  it("answer 404 NOT_FOUND to an admin and to a viewer, on every route", async () => {
    const bad: string[] = [];
    for (const route of READS) {
      const url = `/api/v1${route.replace(":p", "no-such-project").replace(/:[rtx]\b/, UNKNOWN)}`;
      const adminOnly = /members|webhooks/.test(route);
      for (const who of adminOnly ? [api.admin] : [api.admin, api.viewer]) {
        const res = await api.call(who, { method: "GET", url });
        const err = res.statusCode >= 400 ? errorOf(res) : { status: res.statusCode, code: "-" };
        if (err.status !== 404 || err.code !== "NOT_FOUND")
          bad.push(`${url} (${who === api.admin ? "admin" : "viewer"}): ${err.status} ${err.code}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it("a deleted project is unknown too; what exists still answers", async () => {
    const { projectId, instanceId } = await api.project();
    const { rolloutId, taskIds } = await api.rollout(projectId, [[taskSpec(instanceId, "orders")]]);
    for (const url of [
      `/projects/${projectId}/rollouts`,
      `/projects/${projectId}/releases`,
      `/rollouts/${rolloutId}/tasks`,
      `/tasks/${taskIds[0]}/runs`,
    ]) {
      expect((await api.call(api.viewer, { method: "GET", url: `/api/v1${url}` })).statusCode, url).toBe(200);
    }
    expect((await api.call(api.admin, { method: "DELETE", url: `/api/v1/projects/${projectId}` })).statusCode).toBe(204);
    for (const url of [`/projects/${projectId}/releases`, `/projects/${projectId}/database-groups`, `/projects/${projectId}/webhooks`]) {
      expect(errorOf(await api.call(api.admin, { method: "GET", url: `/api/v1${url}` })), url).toMatchObject({
        status: 404,
        code: "NOT_FOUND",
      });
    }
  });

  it("anonymous callers learn nothing (401 before 404); malformed ids stay 400", async () => {
    expect(errorOf(await api.call(null, { method: "GET", url: "/api/v1/projects/no-such-project/releases" })).status).toBe(401);
    expect(errorOf(await api.call(api.viewer, { method: "GET", url: "/api/v1/rollouts/abc/tasks" })).status).toBe(400);
  });
});
