import { beforeAll, expect, it } from "vitest";
import fc from "fast-check";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { sql } from "kysely";
import type { TSchema } from "typebox";
import { PendingScheduler } from "../../src/scheduler/pending-scheduler.js";
import { taskRunFinish, taskRunsClaim } from "../../src/store/runs.js";
import {
  ApiTokenCreate,
  CancelBody,
  InstanceCreate,
  Login,
  ProjectCreate,
  ProjectPatch,
  RolloutCreate,
  RunBody,
  SkipBody,
  UserCreate,
  UserPatch,
} from "@runway/shared/schemas";
import { useApiApp } from "../helpers/api-app.js";
import { apiProject, apiRollout, taskSpec } from "../helpers/api.js";

/**
 * Thousands of generated bad requests at every mutating endpoint: malformed or wrongly typed bodies,
 * unknown fields, hostile strings, huge or empty id lists, ids that name nothing or the wrong thing,
 * mangled paths and query strings. Each must get a 4xx with the error envelope, and no row may change
 * (the audit log excepted: recording refused attempts is its job).
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 2500);
const CODES = new Set([
  "INVALID_ARGUMENT",
  "UNAUTHENTICATED",
  "PERMISSION_DENIED",
  "NOT_FOUND",
  "FAILED_PRECONDITION",
  "CONFLICT",
  "PAYLOAD_TOO_LARGE",
  "RATE_LIMITED",
]);
const TABLES = [
  "project",
  "instance",
  "rollout",
  "stage",
  "task",
  "task_run",
  "task_run_log",
  "app_user",
  "user_session",
  "api_token",
  "replica",
  "gating_dirty_database",
  "gating_dirty_task",
  "gating_dirty_rollout",
  "gating_dirty_batch",
  "gating_state",
];

const api = useApiApp();
const ids = { rollout: "", notStarted: "", pendingTask: "", pendingRun: "", doneRun: "", otherRolloutRun: "", otherTask: "" };

beforeAll(async () => {
  // Fixed ids: the generated requests below avoid naming these.
  const { projectId, instanceId } = await apiProject(api.app, api.admin, "fuzz");
  const r = await apiRollout(api.app, api.admin, projectId, [
    [taskSpec(instanceId, "a"), taskSpec(instanceId, "b"), taskSpec(instanceId, "c")],
  ]);
  const other = await apiRollout(api.app, api.admin, projectId, [[taskSpec(instanceId, "z")]]);
  const runRes = async (rolloutId: string, taskIds: string[]) =>
    (await api.call(api.admin, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/tasks/run`, payload: { taskIds } })).json()
      .results as { taskRunId: string }[];
  const [done] = await runRes(r.rolloutId, [r.taskIds[2]!]);
  await new PendingScheduler({ db: api.db, clock: { now: () => new Date() }, replicaId: "fz", fullPassIntervalMs: 3_600_000 }).runOnce({
    full: true,
  });
  const [claimed] = await taskRunsClaim(api.db, { replicaId: "fz", limit: 1, leaseTtlMs: 60_000, now: new Date() });
  await taskRunFinish(api.db, {
    runId: claimed!.id,
    replicaId: "fz",
    epoch: claimed!.epoch,
    status: "DONE",
    result: {},
    message: "ok",
    now: new Date(),
  });
  const [pending] = await runRes(r.rolloutId, [r.taskIds[1]!]);
  const [otherRun] = await runRes(other.rolloutId, other.taskIds);
  Object.assign(ids, {
    rollout: r.rolloutId,
    notStarted: r.taskIds[0],
    pendingTask: r.taskIds[1],
    pendingRun: pending!.taskRunId,
    doneRun: done!.taskRunId,
    otherRolloutRun: otherRun!.taskRunId,
    otherTask: other.taskIds[0],
  });
});

/** One hash over every table but the audit log: one statement, cheap enough to take after every request. */
async function fingerprint(): Promise<string> {
  const parts = TABLES.map((name) => sql`coalesce((SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) FROM ${sql.table(name)} x), '-')`);
  const { rows } = await sql<{ h: string }>`SELECT concat_ws(',', ${sql.join(parts)}) AS h`.execute(api.db);
  return rows[0]!.h;
}

// The oracle: a schema-valid body is not a "bad body" (the semantic arbitraries below cover those on purpose).
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const oracle = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: false, strict: false });
addFormats(oracle);
const compiled = new Map<TSchema, ValidateFunction>();
const isValid = (schema: TSchema, body: unknown) => {
  let v = compiled.get(schema);
  if (!v) compiled.set(schema, (v = oracle.compile(schema)));
  return v(structuredClone(body)) as boolean;
};

const hostile = fc.constantFrom(
  "'; DROP TABLE task; --",
  "1 OR 1=1",
  "\u0000",
  "a\u0000b",
  "%00",
  "../../etc/passwd",
  "${jndi:x}",
  "<script>",
  "\ud800",
  "🚀".repeat(50),
  "x".repeat(70_000),
  "",
  " ",
  "null",
  "NaN",
  "-1",
  "0",
  "1e309",
  "99999999999999999999",
  "9223372036854775808",
  "2024-02-30T00:00:00Z",
  "tomorrow",
);
const weird = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  hostile,
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.constant(null),
  fc.boolean(),
  fc.array(fc.oneof(hostile, fc.string(), fc.integer()), { maxLength: 5 }),
  fc.constant(Array.from({ length: 1001 }, (_, i) => String(i + 1))),
  fc.constant([]),
);
const idLike = fc.oneof(hostile, fc.string({ maxLength: 30 }), fc.bigInt({ min: -10n, max: 10n ** 25n }).map(String));

type Body = Record<string, unknown>;
/** One corruption of a valid body: a field replaced, removed, or an unknown one added. */
const corrupt = (example: Body) =>
  fc.oneof(
    fc.tuple(fc.constantFrom(...Object.keys(example)), weird).map(([k, v]) => ({ ...example, [k]: v })),
    fc.tuple(fc.string({ minLength: 1, maxLength: 12 }), weird).map(([k, v]) => ({ ...example, [k]: v })),
    fc.constantFrom(...Object.keys(example)).map((k) => Object.fromEntries(Object.entries(example).filter(([key]) => key !== k))),
  );

interface Target {
  method: "POST" | "PATCH" | "DELETE";
  path: () => string;
  schema?: TSchema;
  example?: Body;
}
const task = () => ({ type: "DATABASE_SCHEMA_UPDATE", instanceId: "i-fuzz", database: "d", statement: "SELECT 1" });
const targets: Target[] = [
  { method: "POST", path: () => "/auth/login", schema: Login, example: { username: "admin", password: "not-it" } },
  { method: "POST", path: () => "/users", schema: UserCreate, example: { username: "newbie", password: "long-enough", role: "viewer" } },
  { method: "PATCH", path: () => "/users/admin", schema: UserPatch, example: { role: "viewer" } },
  { method: "POST", path: () => "/tokens", schema: ApiTokenCreate, example: { name: "n" } },
  { method: "POST", path: () => "/projects", schema: ProjectCreate, example: { id: "newproj", title: "T", parallelTasksPerRollout: 1 } },
  { method: "PATCH", path: () => "/projects/fuzz", schema: ProjectPatch, example: { title: "T", parallelTasksPerRollout: 2 } },
  {
    method: "POST",
    path: () => "/instances",
    schema: InstanceCreate,
    example: { id: "newinst", title: "T", connectionUrl: "postgres://u@h/db" },
  },
  {
    method: "POST",
    path: () => "/projects/fuzz/rollouts",
    schema: RolloutCreate,
    example: { title: "T", stages: [{ environment: "e", tasks: [task()] }] },
  },
  {
    method: "POST",
    path: () => `/rollouts/${ids.rollout}/tasks/run`,
    schema: RunBody,
    example: { taskIds: [ids.notStarted], runAt: "2030-01-01T00:00:00Z" },
  },
  {
    method: "POST",
    path: () => `/rollouts/${ids.rollout}/tasks/skip`,
    schema: SkipBody,
    example: { taskIds: [ids.notStarted], reason: "r" },
  },
  {
    method: "POST",
    path: () => `/rollouts/${ids.rollout}/task-runs/cancel`,
    schema: CancelBody,
    example: { taskRunIds: [ids.pendingRun] },
  },
];

interface Req {
  method: string;
  url: string;
  payload?: string;
  contentType?: string;
  auth: "session" | "none" | "badcsrf";
}

const query = fc.option(
  fc
    .dictionary(fc.string({ maxLength: 8 }), fc.oneof(hostile, fc.string({ maxLength: 20 })), { maxKeys: 3 })
    .map((d) => new URLSearchParams(d).toString()),
  { nil: undefined },
);
const auth = fc.constantFrom<Req["auth"]>("session", "session", "session", "session", "none", "badcsrf");
const url = (path: string, q: string | undefined) => `/api/v1${path}${q ? `?${q}` : ""}`;
/** Lone surrogates cannot be percent-encoded; raw malformed escapes are generated separately. */
const enc = (s: string) => encodeURIComponent(s.replace(/[\ud800-\udfff]/gu, "\ufffd"));
const rawSegment = fc.constantFrom("%", "%zz", "%ED%A0%80", "%00", "%C0%AF", "..", ".", "%2e%2e", "a%2Fb", "%FF");

/** Bodies that fail the route's schema: random JSON, corrupted valid bodies (also one level down in rollouts), raw text. */
const badBody = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(...targets),
      fc.oneof(
        fc.jsonValue({ maxDepth: 4 }),
        fc.constantFrom(...targets).chain((x) => corrupt(x.example!)),
      ),
      query,
      auth,
    )
    .filter(([tg, body]) => !isValid(tg.schema!, body))
    .map(([tg, body, q, a]): Req => ({
      method: tg.method,
      url: url(tg.path(), q),
      payload: JSON.stringify(body),
      contentType: "application/json",
      auth: a,
    })),
  corrupt(task())
    .map((tk) => ({ title: "T", stages: [{ environment: "e", tasks: [tk] }] }))
    .filter((body) => !isValid(RolloutCreate, body))
    .map((body): Req => ({
      method: "POST",
      url: url("/projects/fuzz/rollouts", undefined),
      payload: JSON.stringify(body),
      contentType: "application/json",
      auth: "session",
    })),
  fc
    .tuple(
      fc.constantFrom(...targets),
      fc.string({ maxLength: 200 }),
      fc.constantFrom("application/json", "text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data"),
      auth,
    )
    .map(([tg, text, ct, a]): Req => ({ method: tg.method, url: url(tg.path(), undefined), payload: text, contentType: ct, auth: a })),
);

/** Schema-valid bodies that name the wrong things: all refused as a whole (404/409), so still nothing changes. */
const wrongIds = fc
  .oneof(
    fc.constantFrom("missing", "other", "both").map(
      (which) =>
        [
          `/rollouts/${ids.rollout}/tasks/run`,
          {
            taskIds: which === "missing" ? ["424242424242"] : which === "other" ? [ids.otherTask] : [ids.notStarted, ids.otherTask],
          },
        ] as const,
    ),
    fc
      .boolean()
      .map(
        (withNotStarted) =>
          [
            `/rollouts/${ids.rollout}/tasks/skip`,
            { taskIds: withNotStarted ? [ids.notStarted, ids.pendingTask] : [ids.pendingTask], reason: "x" },
          ] as const,
      ),
    fc
      .subarray(["done", "other", "missing", "pending"] as const, { minLength: 1 })
      .filter((xs) => !(xs.length === 1 && xs[0] === "pending"))
      .map(
        (xs) =>
          [
            `/rollouts/${ids.rollout}/task-runs/cancel`,
            {
              taskRunIds: xs.map(
                (x) => ({ done: ids.doneRun, other: ids.otherRolloutRun, missing: "424242424242", pending: ids.pendingRun })[x],
              ),
            },
          ] as const,
      ),
    fc.constant([
      "/projects/fuzz/rollouts",
      { title: "T", stages: [{ environment: "e", tasks: [{ ...task(), instanceId: "i-missing" }] }] },
    ] as const),
    fc.constant(["/projects", { id: "fuzz", title: "dup" }] as const),
    fc.constant(["/instances", { id: "i-fuzz", title: "dup", connectionUrl: "postgres://u@h/db" }] as const),
    fc.constant(["/users", { username: "admin", password: "long-enough", role: "viewer" }] as const),
  )
  .map(([path, body]): Req => ({
    method: "POST",
    url: url(path, undefined),
    payload: JSON.stringify(body),
    contentType: "application/json",
    auth: "session",
  }));

/** Mangled path parameters, and DELETEs of things that do not exist. */
const badPaths = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(
        "/rollouts/{}/tasks/run",
        "/rollouts/{}/tasks/skip",
        "/rollouts/{}/task-runs/cancel",
        "/projects/{}",
        "/projects/{}/rollouts",
        "/users/{}",
        "/tokens/{}",
        "/instances/{}",
      ),
      idLike,
      fc.constantFrom("POST", "PATCH", "DELETE", "PUT"),
      query,
      auth,
    )
    .filter(([, id]) => !["fuzz", "i-fuzz", "admin"].includes(id))
    .map(([tpl, id, method, q, a]): Req => ({
      method,
      url: url(tpl.replace("{}", enc(id)), q),
      payload: "{}",
      contentType: "application/json",
      auth: a,
    })),
  fc
    .tuple(
      fc.array(
        fc.oneof(
          fc.string({ maxLength: 10 }).map(enc),
          hostile.map((h) => enc(h.slice(0, 40))),
          rawSegment,
        ),
        { minLength: 1, maxLength: 4 },
      ),
      fc.constantFrom("POST", "PATCH", "DELETE"),
      query,
    )
    .map(([segs, method, q]): Req => ({ method, url: url("/" + segs.join("/"), q), auth: "session" })),
  fc
    .tuple(fc.constantFrom("/rollouts/{}/tasks/run", "/projects/{}", "/tokens/{}"), rawSegment, fc.constantFrom("POST", "PATCH", "DELETE"))
    .map(([tpl, seg, method]): Req => ({
      method,
      url: url(tpl.replace("{}", seg), undefined),
      payload: "{}",
      contentType: "application/json",
      auth: "session",
    })),
);

it(
  `${RUNS} generated bad requests to mutating endpoints: no 5xx, always the error envelope, no row changed`,
  async () => {
    const before = await fingerprint();
    let n = 0;
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof({ arbitrary: badBody, weight: 6 }, { arbitrary: wrongIds, weight: 1 }, { arbitrary: badPaths, weight: 3 }),
        async (req) => {
          const headers: Record<string, string> = {};
          if (req.auth !== "none") headers.cookie = api.admin.headers.cookie!;
          if (req.auth === "session") headers["x-csrf-token"] = api.admin.headers["x-csrf-token"]!;
          if (req.contentType) headers["content-type"] = req.contentType;
          const res = await api.app.inject({
            method: req.method as "POST",
            url: req.url,
            headers,
            ...(req.payload !== undefined ? { payload: req.payload } : {}),
          });
          n++;
          seen.add(res.statusCode);
          expect(
            res.statusCode,
            `${req.method} ${req.url} ${req.payload?.slice(0, 300)} → ${res.body.slice(0, 300)}`,
          ).toBeGreaterThanOrEqual(400);
          expect(res.statusCode).toBeLessThan(500);
          const body = res.json() as { error?: { code?: string; message?: string } };
          expect(CODES.has(body.error?.code ?? ""), res.body.slice(0, 300)).toBe(true);
          expect(body.error?.message).toEqual(expect.any(String));
          expect(await fingerprint(), `${req.method} ${req.url} ${req.payload?.slice(0, 300)} changed the database`).toBe(before);
        },
      ),
      { numRuns: RUNS, ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {}) },
    );
    expect(n).toBeGreaterThanOrEqual(RUNS);
    // The generators reach past validation into the handlers and the store (404/409), not only the schema.
    expect([...seen].sort()).toEqual(expect.arrayContaining([400, 401, 403, 404, 409, 415]));
  },
  60_000 + RUNS * 40,
);
