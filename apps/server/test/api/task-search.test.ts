import { beforeAll, describe, expect, it } from "vitest";
import { PendingScheduler } from "../../src/scheduler/pending-scheduler.js";
import { taskRunFinish, taskRunsClaim } from "../../src/store/runs.js";
import { useApiApp } from "../helpers/api-app.js";
import { errorOf, taskSpec } from "../helpers/api.js";

/** Search, filters, sorting, failure groups and the CSV export of a rollout's tasks (all server-side). */
const api = useApiApp();

let rolloutId: string;
let ids: string[];
let stageIds: string[];
let instanceId: string;

const list = async (query: string) => {
  const res = await api.call(api.viewer, { method: "GET", url: `/api/v1/rollouts/${rolloutId}/tasks?${query}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { tasks: { id: string; database: string; status: string }[]; nextPageToken: string | null; total?: number };
};
const idsOf = async (query: string) => (await list(query)).tasks.map((t) => t.id);

beforeAll(async () => {
  const p = await api.project();
  instanceId = p.instanceId;
  const s = (db: string, more: Parameters<typeof taskSpec>[2] = {}) => taskSpec(instanceId, db, more);
  const r = await api.rollout(
    p.projectId,
    [
      [
        s("shop_a", { statement: "CREATE TABLE orders (id int)", schemaVersion: "0001" }),
        s("shop_b", { statement: "CREATE TABLE orders (id int)", schemaVersion: "0001" }),
        s("billing", { statement: "INSERT INTO fees VALUES (1)", type: "DATABASE_DATA_UPDATE" }),
      ],
      [
        s("shop_c", { statement: "UPDATE t SET v = '100%_done'", type: "DATABASE_DATA_UPDATE" }),
        s("shop_d", { statement: "SELECT 2", schemaVersion: "0002" }),
        s("analytics", { statement: "SELECT 1", schemaVersion: "0003" }),
      ],
      // The second stage's task 4 runs beside the first stage's (no stage gate: this file is about finding tasks).
    ],
    undefined,
    { stageOrder: "NONE" },
  );
  ({ rolloutId, stageIds } = r);
  ids = r.taskIds;
  // Tasks 0, 1, 2 and 4 run: 0 and 1 fail with 42P07, 2 with 23505, 4 without a code; 3 and 5 never start.
  const run = await api.call(api.releaser, {
    method: "POST",
    url: `/api/v1/rollouts/${rolloutId}/tasks/run`,
    payload: { taskIds: [ids[0], ids[1], ids[2], ids[4]] },
  });
  expect(run.statusCode).toBe(200);
  await new PendingScheduler({ db: api.db, clock: { now: () => new Date() }, replicaId: "r1", fullPassIntervalMs: 3_600_000 }).runOnce({
    full: true,
  });
  const claimed = await taskRunsClaim(api.db, { replicaId: "r1", limit: 10, leaseTtlMs: 60_000, now: new Date() });
  expect(claimed).toHaveLength(4);
  const errors: Record<string, object> = {
    [ids[0]!]: { message: 'relation "orders" already exists', code: "42P07" },
    [ids[1]!]: { message: 'relation "orders" already exists', code: "42P07" },
    [ids[2]!]: { message: "duplicate key value violates unique constraint", code: "23505" },
    [ids[4]!]: { message: '=HYPERLINK("x")' },
  };
  for (const c of claimed) {
    await taskRunFinish(api.db, {
      runId: c.id,
      replicaId: "r1",
      epoch: c.epoch,
      status: "FAILED",
      result: { error: errors[c.taskId] },
      message: "failed",
      now: new Date(),
    });
  }
});

describe("task search and filters", () => {
  it("searches task id, database, schema version, statement and error text, literally", async () => {
    expect(await idsOf(`q=${encodeURIComponent(`#${ids[3]}`)}`)).toEqual([ids[3]]);
    expect(await idsOf("q=SHOP_")).toEqual([ids[0], ids[1], ids[3], ids[4]]);
    expect(await idsOf("q=0002")).toEqual([ids[4]]);
    expect(await idsOf("q=insert%20into")).toEqual([ids[2]]);
    expect(await idsOf("q=already%20exists")).toEqual([ids[0], ids[1]]);
    // % and _ are what they say, not wildcards.
    expect(await idsOf(`q=${encodeURIComponent("100%_")}`)).toEqual([ids[3]]);
    expect(await idsOf(`q=${encodeURIComponent("0%1")}`)).toEqual([]);
    const page = await list("q=shop");
    expect(page.total).toBe(4);
  });

  it("filters by stage, instance, database, type and error code, combined with statuses", async () => {
    expect(await idsOf(`stageId=${stageIds[1]}`)).toEqual([ids[3], ids[4], ids[5]]);
    expect(await idsOf(`instanceId=${instanceId}&database=billing`)).toEqual([ids[2]]);
    expect(await idsOf("instanceId=other-instance")).toEqual([]);
    expect(await idsOf("type=DATABASE_DATA_UPDATE")).toEqual([ids[2], ids[3]]);
    expect(await idsOf("errorCode=42P07")).toEqual([ids[0], ids[1]]);
    expect(await idsOf("errorCode=none")).toEqual([ids[4]]);
    expect(await idsOf(`status=FAILED&stageId=${stageIds[0]}&type=DATABASE_SCHEMA_UPDATE`)).toEqual([ids[0], ids[1]]);
    expect(await idsOf(`status=NOT_STARTED&q=shop`)).toEqual([ids[3]]);
    expect((await list("errorCode=23505")).total).toBe(1);
    const bad = await api.call(api.viewer, { method: "GET", url: `/api/v1/rollouts/${rolloutId}/tasks?errorCode=drop%20table` });
    expect(errorOf(bad)).toMatchObject({ status: 400, code: "INVALID_ARGUMENT" });
  });

  it("sorts by any column both ways, NULLs last, and pages through a sorted list without gaps or repeats", async () => {
    expect((await list("sort=database")).tasks.map((t) => t.database)).toEqual([
      "analytics",
      "billing",
      "shop_a",
      "shop_b",
      "shop_c",
      "shop_d",
    ]);
    expect((await list("sort=database&order=desc")).tasks.map((t) => t.database)).toEqual([
      "shop_d",
      "shop_c",
      "shop_b",
      "shop_a",
      "billing",
      "analytics",
    ]);
    expect(await idsOf("sort=id&order=desc")).toEqual([...ids].reverse());
    // NOT_STARTED before FAILED in the status order; ties by id.
    expect(await idsOf("sort=status")).toEqual([ids[3], ids[5], ids[0], ids[1], ids[2], ids[4]]);
    expect((await idsOf("sort=schemaVersion")).slice(-2).sort()).toEqual([ids[2], ids[3]].sort());
    expect((await idsOf("sort=finished&order=desc")).slice(-2)).toEqual([ids[5], ids[3]]);
    for (const sort of ["id", "database", "type", "schemaVersion", "status", "stage", "started", "finished", "duration"]) {
      for (const order of ["asc", "desc"]) {
        const seen: string[] = [];
        let token: string | null = null;
        do {
          const page = await list(`sort=${sort}&order=${order}&pageSize=4${token ? `&pageToken=${token}` : ""}`);
          seen.push(...page.tasks.map((t) => t.id));
          token = page.nextPageToken;
        } while (token);
        expect([...seen].sort(), `${sort} ${order}`).toEqual([...ids].sort());
      }
    }
    const forged = await api.call(api.viewer, { method: "GET", url: `/api/v1/rollouts/${rolloutId}/tasks?sort=type&pageToken=abc` });
    expect(errorOf(forged)).toMatchObject({ status: 400, code: "INVALID_ARGUMENT" });
  });

  it("refuses to combine a change cursor with a search, filter or sort", async () => {
    const { cursor } = (await list("")) as unknown as { cursor: string };
    for (const q of ["q=shop", "database=billing", "errorCode=42P07", "sort=database"]) {
      const res = await api.call(api.viewer, { method: "GET", url: `/api/v1/rollouts/${rolloutId}/tasks?updatedSince=${cursor}&${q}` });
      expect(errorOf(res).status, q).toBe(400);
    }
  });
});

describe("failure groups", () => {
  it("groups the filter's failed tasks by error code, biggest first", async () => {
    const res = await api.call(api.viewer, { method: "GET", url: `/api/v1/rollouts/${rolloutId}/tasks/failure-groups` });
    expect(res.statusCode).toBe(200);
    expect(res.json().groups).toEqual([
      { errorCode: "42P07", message: 'relation "orders" already exists', count: 2 },
      { errorCode: "23505", message: "duplicate key value violates unique constraint", count: 1 },
      { errorCode: "none", message: '=HYPERLINK("x")', count: 1 },
    ]);
    const narrowed = await api.call(api.viewer, {
      method: "GET",
      url: `/api/v1/rollouts/${rolloutId}/tasks/failure-groups?database=shop_a`,
    });
    expect(narrowed.json().groups).toEqual([{ errorCode: "42P07", message: 'relation "orders" already exists', count: 1 }]);
    const missing = await api.call(api.viewer, { method: "GET", url: "/api/v1/rollouts/424242424242/tasks/failure-groups" });
    expect(errorOf(missing).status).toBe(404);
  });
});

describe("CSV export", () => {
  it("streams the filtered, sorted view as RFC 4180 CSV with formulas defused", async () => {
    const res = await api.call(api.viewer, { method: "GET", url: `/api/v1/rollouts/${rolloutId}/tasks/export?sort=database&order=desc` });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/csv/);
    expect(res.headers["content-disposition"]).toContain(`rollout-${rolloutId}-tasks.csv`);
    const lines = res.body.trimEnd().split("\r\n");
    expect(lines[0]).toBe(
      "id,stage,instance,database,type,schema_version,status,attempt,started_at,finished_at,duration_ms,error_code,error_message,statement",
    );
    expect(lines).toHaveLength(7);
    expect(lines[1]).toMatch(new RegExp(`^${ids[4]},env1,${instanceId},shop_d,DATABASE_SCHEMA_UPDATE,0002,FAILED,1,`));
    expect(lines[1]).toContain(`,,"'=HYPERLINK(""x"")",SELECT 2`);
    expect(lines[3]).toContain(`,42P07,"relation ""orders"" already exists",CREATE TABLE orders (id int)`);
    const filtered = await api.call(api.viewer, { method: "GET", url: `/api/v1/rollouts/${rolloutId}/tasks/export?errorCode=42P07` });
    expect(filtered.body.trimEnd().split("\r\n")).toHaveLength(3);
  });

  it("answers an unknown rollout with a JSON 404, and a viewer may export", async () => {
    const missing = await api.call(api.viewer, { method: "GET", url: "/api/v1/rollouts/424242424242/tasks/export" });
    expect(errorOf(missing)).toMatchObject({ status: 404, code: "NOT_FOUND" });
    const anonymous = await api.call(null, { method: "GET", url: `/api/v1/rollouts/${rolloutId}/tasks/export` });
    expect(anonymous.statusCode).toBe(401);
  });
});

describe("audit log search", () => {
  it("searches actor, action, target and outcome, pages newest first", async () => {
    const all = await api.call(api.admin, { method: "GET", url: "/api/v1/audit-log?q=tasks.run" });
    expect(all.statusCode).toBe(200);
    const entries = all.json().entries as { action: string; target: string; outcome: string }[];
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.every((e) => e.action === "tasks.run")).toBe(true);
    const byTarget = await api.call(api.admin, { method: "GET", url: `/api/v1/audit-log?q=${encodeURIComponent(`rollout/${rolloutId}`)}` });
    expect((byTarget.json().entries as { target: string }[]).every((e) => e.target === `rollout/${rolloutId}`)).toBe(true);
    const ok = await api.call(api.admin, { method: "GET", url: "/api/v1/audit-log?outcome=SUCCESS&pageSize=1" });
    expect(ok.json().entries).toHaveLength(1);
    expect(ok.json().nextPageToken).not.toBeNull();
    const none = await api.call(api.admin, { method: "GET", url: "/api/v1/audit-log?q=%25no%20such%20thing%25" });
    expect(none.json().entries).toEqual([]);
    expect((await api.call(api.viewer, { method: "GET", url: "/api/v1/audit-log?q=x" })).statusCode).toBe(403);
  });
});
