import type { LocalRuns } from "../../src/scheduler/local-runs.js";
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from "fastify";
import type { Role } from "@runway/shared";
import { buildApp } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { Metrics } from "../../src/metrics.js";
import { hashPassword } from "../../src/auth/secrets.js";
import { userCreate } from "../../src/store/users.js";
import type { Clock } from "../../src/scheduler/clock.js";
import type { TestDatabase } from "./db.js";
import { TargetGuard } from "../../src/executors/target-guard.js";
import { generateKey, SecretBox } from "../../src/secrets/secret-box.js";
import { controlIdentity } from "../../src/store/control.js";

/** One key per test process; the secrets tests (test/security) use their own. */
export const testSecrets = new SecretBox(generateKey());

export const ADMIN_PASSWORD = "admin-password-for-tests";
export const USER_PASSWORD = "user-password-for-tests";

export function testConfig(env: Record<string, string> = {}) {
  return loadConfig(
    {
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
      RUNWAY_ADMIN_PASSWORD: ADMIN_PASSWORD,
      RUNWAY_REPLICA_ID: "api-test",
      RUNWAY_LOGIN_RATE_LIMIT: "1000",
      ...env,
    },
    [],
  );
}

export async function buildTestApp(
  t: TestDatabase,
  opts: {
    env?: Record<string, string>;
    dashboardDir?: string;
    print?: (line: string) => void;
    clock?: Clock;
    secrets?: SecretBox;
    /** A running scheduler the API's new runs may start on (default: none, as a replica still starting). */
    runs?: LocalRuns;
  } = {},
): Promise<FastifyInstance> {
  return buildApp({
    trust: { secrets: opts.secrets ?? testSecrets, guard: new TargetGuard(await controlIdentity(t.db)) },
    db: t.db,
    pool: t.pool,
    config: testConfig(opts.env),
    metrics: new Metrics(),
    databaseUrl: t.url,
    dashboardDir: opts.dashboardDir ?? "/nonexistent-dashboard",
    changeWindowMs: 10,
    print: opts.print ?? (() => undefined),
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.runs ? { runs: opts.runs } : {}),
  });
}

/** Credentials for inject(): a session (cookie + CSRF header) or a bearer token. */
export interface Who {
  headers: Record<string, string>;
  username: string;
}

export async function login(app: FastifyInstance, username: string, password: string): Promise<Who> {
  const res = await app.inject({ method: "POST", url: "/api/v1/auth/login", payload: { username, password } });
  if (res.statusCode !== 200) throw new Error(`login ${username}: ${res.statusCode} ${res.body}`);
  const cookie = res.cookies.find((c) => c.name === "runway_session")!;
  return { username, headers: { cookie: `runway_session=${cookie.value}`, "x-csrf-token": res.json().csrfToken } };
}

let seq = 0;
/** A user of the given role, created straight in the store (fast), signed in through the API. */
export async function userWithRole(app: FastifyInstance, t: TestDatabase, role: Role): Promise<Who> {
  const username = `${role}${++seq}`;
  await userCreate(t.db, { username, role, passwordHash: await hashPassword(USER_PASSWORD), now: new Date() });
  return login(app, username, USER_PASSWORD);
}

export async function bearerFor(app: FastifyInstance, who: Who): Promise<Who> {
  const res = await app.inject({ method: "POST", url: "/api/v1/tokens", headers: who.headers, payload: { name: "test" } });
  if (res.statusCode !== 201) throw new Error(`token: ${res.statusCode} ${res.body}`);
  return { username: who.username, headers: { authorization: `Bearer ${res.json().token}` } };
}

/** inject() as someone. */
export function call(app: FastifyInstance, who: Who | null, opts: InjectOptions): Promise<LightMyRequestResponse> {
  return app.inject({ ...opts, headers: { ...(who?.headers ?? {}), ...(opts.headers as Record<string, string> | undefined) } });
}

export function errorOf(res: LightMyRequestResponse): { status: number; code: string; message: string; details?: unknown } {
  const body = res.json() as { error: { code: string; message: string; details?: unknown } };
  return { status: res.statusCode, ...body.error };
}

export interface TaskSpec {
  type?: string;
  instanceId: string;
  database: string;
  statement?: string;
  schemaVersion?: string | null;
}

export const taskSpec = (instanceId: string, database: string, p: Partial<TaskSpec> = {}) => ({
  type: p.type ?? "DATABASE_SCHEMA_UPDATE",
  instanceId,
  database,
  statement: p.statement ?? "SELECT 1",
  ...(p.schemaVersion !== undefined ? { schemaVersion: p.schemaVersion } : {}),
});

/** A project + instance made by an admin through the API. */
export async function apiProject(
  app: FastifyInstance,
  admin: Who,
  id: string,
  limit = 0,
): Promise<{ projectId: string; instanceId: string }> {
  for (const [url, payload] of [
    ["/api/v1/projects", { id, title: `Project ${id}`, parallelTasksPerRollout: limit }],
    ["/api/v1/instances", { id: `i-${id}`, title: "Target", connectionUrl: "postgres://nobody@127.0.0.1:1/none", projectIds: [id] }],
  ] as const) {
    const res = await call(app, admin, { method: "POST", url, payload });
    if (res.statusCode !== 201) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
  }
  return { projectId: id, instanceId: `i-${id}` };
}

/** Creates a rollout through the API; returns it and its task ids in order. */
export async function apiRollout(
  app: FastifyInstance,
  who: Who,
  projectId: string,
  stages: ReturnType<typeof taskSpec>[][],
  extra: Record<string, unknown> = {},
): Promise<{ rolloutId: string; taskIds: string[]; stageIds: string[] }> {
  const res = await call(app, who, {
    method: "POST",
    url: `/api/v1/projects/${projectId}/rollouts`,
    payload: { title: "r", stages: stages.map((tasks, i) => ({ environment: `env${i}`, tasks })), ...extra },
  });
  if (res.statusCode !== 201) throw new Error(`rollout: ${res.statusCode} ${res.body}`);
  const rollout = res.json() as { id: string; stages: { id: string }[] };
  const tasks = await call(app, who, { method: "GET", url: `/api/v1/rollouts/${rollout.id}/tasks?pageSize=1000` });
  return { rolloutId: rollout.id, taskIds: tasks.json().tasks.map((x: { id: string }) => x.id), stageIds: rollout.stages.map((s) => s.id) };
}
