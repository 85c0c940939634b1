import { beforeAll, expect, it } from "vitest";
import type { Role } from "@runway/shared";
import { useApiApp } from "../helpers/api-app.js";
import { apiProject, taskSpec, type Who } from "../helpers/api.js";

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
const endpoints = (): [string, string, Need][] => [
  ["POST", "/auth/login", "public"],
  ["POST", "/auth/logout", "viewer"],
  ["GET", "/auth/me", "viewer"],
  ["GET", "/users", "admin"],
  ["POST", "/users", "admin"],
  ["PATCH", "/users/nobody", "admin"],
  ["GET", "/tokens", "viewer"],
  ["POST", "/tokens", "viewer"],
  ["DELETE", "/tokens/424242", "viewer"],
  ["GET", "/audit-log", "admin"],
  ["GET", "/projects", "viewer"],
  ["POST", "/projects", "admin"],
  ["GET", "/projects/roles", "viewer"],
  ["PATCH", "/projects/roles", "admin"],
  ["DELETE", "/projects/nope", "admin"],
  ["GET", "/instances", "viewer"],
  ["POST", "/instances", "admin"],
  ["GET", "/instances/i-roles", "viewer"],
  ["DELETE", "/instances/nope", "admin"],
  ["GET", "/projects/roles/rollouts", "viewer"],
  ["POST", "/projects/roles/rollouts", "releaser"],
  ["GET", `/rollouts/${r.rolloutId}`, "viewer"],
  ["GET", `/rollouts/${r.rolloutId}/tasks`, "viewer"],
  ["POST", `/rollouts/${r.rolloutId}/tasks/run`, "releaser"],
  ["POST", `/rollouts/${r.rolloutId}/tasks/skip`, "releaser"],
  ["POST", `/rollouts/${r.rolloutId}/task-runs/cancel`, "releaser"],
  ["GET", `/tasks/${r.taskIds[0]}`, "viewer"],
  ["GET", `/tasks/${r.taskIds[0]}/runs`, "viewer"],
  ["GET", "/task-runs/424242", "viewer"],
  ["GET", "/task-runs/424242/logs", "viewer"],
  ["GET", "/events?rolloutId=424242", "viewer"],
  ["GET", "/healthz", "public"],
  ["GET", "/readyz", "public"],
  ["GET", "/metrics", "public"],
];

const RANK: Record<Need, number> = { public: -1, viewer: 0, releaser: 1, admin: 2 };

it("each endpoint admits exactly the roles it should", async () => {
  const before = await api.db.selectFrom("task_run").select("id").execute();
  const failures: string[] = [];
  for (const [method, path, need] of endpoints()) {
    const body = method === "GET" || method === "DELETE" ? {} : { payload: {} };
    for (const principal of [null, "viewer", "releaser", "admin"] as const) {
      const res = await api.call(principal ? who[principal] : null, { method: method as "GET", url: `/api/v1${path}`, ...body });
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
