import { beforeAll, expect, it } from "vitest";
import type { Role } from "@runway/shared";
import { useApiApp } from "../helpers/api-app.js";
import { apiProject, taskSpec, type Who } from "../helpers/api.js";
import { apiOperations } from "../helpers/openapi.js";
import { PROJECT_REF_PARAMS } from "../../src/plugins/app/project-ref.js";

/**
 * Every endpoint × every principal. Bodies are deliberately invalid (or ids unknown), so a caller who is
 * let through gets a 2xx/400/404/409 — never a change — and one who is not gets 401 (anonymous) or 403.
 */
const api = useApiApp();
const who = {} as Record<Role, Who>;
let r = { rolloutId: "", taskIds: [] as string[] };

beforeAll(async () => {
  // A fixed id: the matrix below names project "roles".
  const { projectId, instanceId } = await apiProject(api.app, api.admin, "roles");
  r = await api.rollout(projectId, [[taskSpec(instanceId, "a")]], api.admin);
  // Bearer tokens: a session would end at the first logout in the matrix.
  who.admin = await api.bearer(api.admin);
  who.releaser = await api.bearer(api.releaser);
  who.viewer = await api.bearer(api.viewer);
});

type Need = Role | "public";
const UNKNOWN = "424242";
const RANK: Record<Need, number> = { public: -1, viewer: 0, releaser: 1, admin: 2 };

/**
 * Every operation of the OpenAPI document (checked below), as the document names it, with its least role.
 * Path parameters are filled by `fill`: the matrix's project, rollout and task, or ids that name nothing
 * where a caller let through would otherwise change something (pause, approve, dry runs). A route that
 * names nothing still checks the global role before it answers 404 (project-access.ts).
 */
const endpoints: [string, string, Need][] = [
  ["GET", "/healthz", "public"],
  ["GET", "/readyz", "public"],
  ["GET", "/metrics", "public"],
  ["POST", "/api/v1/auth/login", "public"],
  ["POST", "/api/v1/auth/logout", "viewer"],
  ["GET", "/api/v1/auth/me", "viewer"],
  ["GET", "/api/v1/users", "admin"],
  ["POST", "/api/v1/users", "admin"],
  ["PATCH", "/api/v1/users/{username}", "admin"],
  ["GET", "/api/v1/tokens", "viewer"],
  ["POST", "/api/v1/tokens", "viewer"],
  ["DELETE", "/api/v1/tokens/{id}", "viewer"],
  ["GET", "/api/v1/audit-log", "admin"],
  ["GET", "/api/v1/projects", "viewer"],
  ["POST", "/api/v1/projects", "admin"],
  ["GET", "/api/v1/projects/{projectId}", "viewer"],
  ["PATCH", "/api/v1/projects/{projectId}", "admin"],
  ["DELETE", "/api/v1/projects/{projectId}", "admin"],
  ["GET", "/api/v1/projects/{projectId}/members", "admin"],
  ["PUT", "/api/v1/projects/{projectId}/members/{username}", "admin"],
  ["DELETE", "/api/v1/projects/{projectId}/members/{username}", "admin"],
  ["GET", "/api/v1/instances", "viewer"],
  ["POST", "/api/v1/instances", "admin"],
  ["GET", "/api/v1/instances/{instanceId}", "viewer"],
  ["PATCH", "/api/v1/instances/{instanceId}", "admin"],
  ["DELETE", "/api/v1/instances/{instanceId}", "admin"],
  ["POST", "/api/v1/instances/{instanceId}/test", "admin"],
  ["GET", "/api/v1/instances/{instanceId}/databases", "viewer"],
  ["POST", "/api/v1/instances/{instanceId}/databases/refresh", "releaser"],
  ["GET", "/api/v1/projects/{projectId}/instances", "viewer"],
  ["PUT", "/api/v1/projects/{projectId}/instances/{instanceId}", "admin"],
  ["DELETE", "/api/v1/projects/{projectId}/instances/{instanceId}", "admin"],
  ["GET", "/api/v1/projects/{projectId}/rollouts", "viewer"],
  ["POST", "/api/v1/projects/{projectId}/rollouts", "releaser"],
  ["GET", "/api/v1/rollouts/{rolloutId}", "viewer"],
  ["GET", "/api/v1/rollouts/{rolloutId}/tasks", "viewer"],
  ["POST", "/api/v1/rollouts/{rolloutId}/tasks/run", "releaser"],
  ["POST", "/api/v1/rollouts/{rolloutId}/tasks/skip", "releaser"],
  ["POST", "/api/v1/rollouts/{rolloutId}/tasks/bulk", "releaser"],
  ["GET", "/api/v1/rollouts/{rolloutId}/tasks/failure-groups", "viewer"],
  ["GET", "/api/v1/rollouts/{rolloutId}/tasks/export", "viewer"],
  ["POST", "/api/v1/rollouts/{rolloutId}/task-runs/cancel", "releaser"],
  ["GET", "/api/v1/rollouts/{rolloutId}/blockers", "viewer"],
  ["GET", "/api/v1/rollouts/{rolloutId}/checks", "viewer"],
  ["POST", "/api/v1/rollouts/{rolloutId}/checks/run", "releaser"],
  ["GET", "/api/v1/rollouts/{rolloutId}/gates", "viewer"],
  ["POST", "/api/v1/rollouts/{rolloutId}/stages/{stageId}/approve", "releaser"],
  ["POST", "/api/v1/rollouts/{rolloutId}/stages/{stageId}/reject", "releaser"],
  ["POST", "/api/v1/rollouts/{rolloutId}/pause", "releaser"],
  ["POST", "/api/v1/rollouts/{rolloutId}/resume", "releaser"],
  ["GET", "/api/v1/tasks/{taskId}", "viewer"],
  ["GET", "/api/v1/tasks/{taskId}/runs", "viewer"],
  ["GET", "/api/v1/tasks/{taskId}/checks", "viewer"],
  ["POST", "/api/v1/tasks/{taskId}/checks/override", "admin"],
  ["GET", "/api/v1/task-runs/{taskRunId}", "viewer"],
  ["GET", "/api/v1/task-runs/{taskRunId}/logs", "viewer"],
  ["GET", "/api/v1/task-runs/{taskRunId}/session", "viewer"],
  ["GET", "/api/v1/events", "viewer"],
  ["GET", "/api/v1/projects/{projectId}/database-groups", "viewer"],
  ["POST", "/api/v1/projects/{projectId}/database-groups", "releaser"],
  ["PUT", "/api/v1/projects/{projectId}/database-groups/{name}", "releaser"],
  ["DELETE", "/api/v1/projects/{projectId}/database-groups/{name}", "releaser"],
  ["GET", "/api/v1/projects/{projectId}/database-groups/{name}/resolution", "viewer"],
  ["POST", "/api/v1/projects/{projectId}/database-group-resolution", "viewer"],
  ["GET", "/api/v1/projects/{projectId}/releases", "viewer"],
  ["POST", "/api/v1/projects/{projectId}/releases", "releaser"],
  ["POST", "/api/v1/projects/{projectId}/releases/upload", "releaser"],
  ["GET", "/api/v1/projects/{projectId}/releases/{releaseId}", "viewer"],
  ["POST", "/api/v1/projects/{projectId}/releases/{releaseId}/preview", "releaser"],
  ["POST", "/api/v1/projects/{projectId}/releases/{releaseId}/rollouts", "releaser"],
  ["GET", "/api/v1/projects/{projectId}/webhooks", "admin"],
  ["POST", "/api/v1/projects/{projectId}/webhooks", "admin"],
  ["PATCH", "/api/v1/projects/{projectId}/webhooks/{webhookId}", "admin"],
  ["DELETE", "/api/v1/projects/{projectId}/webhooks/{webhookId}", "admin"],
  ["GET", "/api/v1/projects/{projectId}/webhooks/{webhookId}/deliveries", "admin"],
  ["POST", "/api/v1/projects/{projectId}/webhooks/{webhookId}/test", "admin"],
  ["POST", "/api/v1/projects/{projectId}/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver", "admin"],
  ["GET", "/api/v1/projects/{projectId}/retry-policy", "viewer"],
  ["PATCH", "/api/v1/projects/{projectId}/retry-policy", "admin"],
  ["GET", "/api/v1/projects/{projectId}/check-policy", "viewer"],
  ["PATCH", "/api/v1/projects/{projectId}/check-policy", "admin"],
  ["GET", "/api/v1/projects/{projectId}/policies", "viewer"],
  ["PUT", "/api/v1/projects/{projectId}/policies", "admin"],
  ["GET", "/api/v1/replicas", "viewer"],
  // Last: it revokes the caller's tokens, which every call above uses.
  ["POST", "/api/v1/auth/sign-out-everywhere", "viewer"],
];

/** Routes whose callers, when let through, would change something real if the path named it. */
const NAMES_NOTHING = /\/(pause|resume|approve|reject|checks\/run|checks\/override|test|refresh)$|^(DELETE|PATCH|PUT) /;

/** Whether the filled path names something of the matrix's project (the first of its project parameters decides). */
function namesProject(method: string, template: string): boolean {
  const real = !NAMES_NOTHING.test(template) && !NAMES_NOTHING.test(`${method} `);
  const first = new RegExp(`\\{(${PROJECT_REF_PARAMS.join("|")})\\}`).exec(template)?.[1];
  if (first === "projectId") return method !== "DELETE";
  return (first === "rolloutId" || first === "taskId") && real;
}

function fill(method: string, template: string): string {
  const real = !NAMES_NOTHING.test(template) && !NAMES_NOTHING.test(`${method} `);
  const values: Record<string, string> = {
    projectId: method === "DELETE" ? "nope" : "roles",
    rolloutId: real ? r.rolloutId : UNKNOWN,
    taskId: real ? r.taskIds[0]! : UNKNOWN,
    stageId: UNKNOWN,
    instanceId: real ? "i-roles" : "nope",
    username: "nobody",
    name: "no-group",
  };
  const url = template.replace(/\{(\w+)\}/g, (_, p: string) => values[p] ?? UNKNOWN);
  return template === "/api/v1/events" ? `${url}?rolloutId=${UNKNOWN}` : url;
}

// Before the matrix below: its sign-out-everywhere as admin ends the admin session this test grants with.
it("in a project where a user has a role of their own, that role decides; elsewhere their global role does", async () => {
  // A global viewer who releases in the project, a global releaser who only views it, one it is hidden from.
  const grants: [Role, "viewer" | "releaser" | "none"][] = [
    ["viewer", "releaser"],
    ["releaser", "viewer"],
    ["releaser", "none"],
  ];
  const users: { global: Role; grant: "viewer" | "releaser" | "none"; who: Who }[] = [];
  for (const [global, grant] of grants) {
    const user = await api.user(global);
    const res = await api.call(api.admin, {
      method: "PUT",
      url: `/api/v1/projects/roles/members/${user.username}`,
      payload: { role: grant },
    });
    expect(res.statusCode, res.body).toBe(200);
    users.push({ global, grant, who: await api.bearer(user) });
  }
  const rank = (role: Role | "none") => (role === "none" ? -1 : RANK[role]);
  const failures: string[] = [];
  for (const [method, template, need] of endpoints) {
    if (need === "public") continue;
    const body = method === "GET" || method === "DELETE" ? {} : { payload: {} };
    const path = fill(method, template);
    const inProject = namesProject(method, template);
    for (const u of users) {
      const role = inProject ? u.grant : u.global;
      const expected = rank(role) >= RANK[need] ? "allowed" : 403;
      const res = await api.call(u.who, { method: method as "GET", url: path, ...body });
      const got = res.statusCode === 401 || res.statusCode === 403 ? res.statusCode : "allowed";
      if (got !== expected || res.statusCode >= 500)
        failures.push(`${method} ${path} as ${u.global} with ${u.grant} in the project: ${res.statusCode} (expected ${expected})`);
    }
  }
  expect(failures).toEqual([]);
});

it("each endpoint admits exactly the roles it should", async () => {
  const before = await api.db.selectFrom("task_run").select("id").execute();
  const failures: string[] = [];
  for (const [method, template, need] of endpoints) {
    const body = method === "GET" || method === "DELETE" ? {} : { payload: {} };
    const path = fill(method, template);
    for (const principal of [null, "viewer", "releaser", "admin"] as const) {
      const res = await api.call(principal ? who[principal] : null, { method: method as "GET", url: path, ...body });
      const rank = principal ? RANK[principal] : -1;
      const expected = rank >= RANK[need] ? "allowed" : principal ? 403 : 401;
      const got = res.statusCode === 401 || res.statusCode === 403 ? res.statusCode : "allowed";
      if (got !== expected || res.statusCode >= 500)
        failures.push(`${method} ${path} as ${principal ?? "anonymous"}: ${res.statusCode} (expected ${expected})`);
    }
  }
  expect(failures).toEqual([]);
  expect(await api.db.selectFrom("task_run").select("id").execute()).toEqual(before);
});

it("the matrix holds every endpoint the server documents, with the least role the document gives it", async () => {
  const documented = (await apiOperations(api.app)).map((o) => `${o.method} ${o.path} ${o.role}`).sort();
  expect(endpoints.map(([method, path, need]) => `${method} ${path} ${need}`).sort()).toEqual(documented);
});
