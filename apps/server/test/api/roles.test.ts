import { afterAll, beforeAll, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import type { Role } from "@runway/shared";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { ADMIN_PASSWORD, apiProject, apiRollout, bearerFor, buildTestApp, call, login, taskSpec, userWithRole, type Who } from "./harness.js";

/**
 * Every endpoint × every principal. Bodies are deliberately invalid (or ids unknown), so a caller who is
 * let through gets a 2xx/400/404/409 — never a change — and one who is not gets 401 (anonymous) or 403.
 */
let t: TestDatabase;
let app: FastifyInstance;
const who = {} as Record<Role, Who>;
let r = { rolloutId: "", taskIds: [] as string[] };

beforeAll(async () => {
  t = await createTestDatabase();
  app = await buildTestApp(t);
  const admin = await login(app, "admin", ADMIN_PASSWORD);
  const { projectId, instanceId } = await apiProject(app, admin, "roles");
  r = await apiRollout(app, admin, projectId, [[taskSpec(instanceId, "a")]]);
  // Bearer tokens: a session would end at the first logout in the matrix.
  who.admin = await bearerFor(app, admin);
  who.releaser = await bearerFor(app, await userWithRole(app, t, "releaser"));
  who.viewer = await bearerFor(app, await userWithRole(app, t, "viewer"));
});
afterAll(async () => {
  await app.close();
  await t.close();
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
  const before = await t.db.selectFrom("task_run").select("id").execute();
  const failures: string[] = [];
  for (const [method, path, need] of endpoints()) {
    const body = method === "GET" || method === "DELETE" ? {} : { payload: {} };
    for (const principal of [null, "viewer", "releaser", "admin"] as const) {
      const res = await call(app, principal ? who[principal] : null, { method: method as "GET", url: `/api/v1${path}`, ...body });
      const rank = principal ? RANK[principal] : -1;
      const expected = rank >= RANK[need] ? "allowed" : principal ? 403 : 401;
      const got = res.statusCode === 401 || res.statusCode === 403 ? res.statusCode : "allowed";
      if (got !== expected || res.statusCode >= 500) failures.push(`${method} ${path} as ${principal ?? "anonymous"}: ${res.statusCode} (expected ${expected})`);
    }
  }
  expect(failures).toEqual([]);
  expect(await t.db.selectFrom("task_run").select("id").execute()).toEqual(before);
});
