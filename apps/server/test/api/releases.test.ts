import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { zipSync, strToU8 } from "fflate";
import { PostgresExecutor } from "../../src/executors/postgres.js";
import { useApiApp } from "../helpers/api-app.js";
import { errorOf, testSecrets } from "../helpers/api.js";
import { adminQuery, createTargetDatabase, targetServerUrl, waitFor, type TargetDatabase } from "../helpers/db.js";
import { startRuntime } from "../helpers/runtime.js";

/**
 * Issue 16 against real targets: instance databases listed with the instance's credentials, a group
 * resolved against them, a release previewed against each database's runway_ledger, a rollout created
 * from it and run, and then the ledger the run wrote read back as "applied" (and an edited file as changed).
 */
const api = useApiApp();
const prefix = `rel${randomBytes(3).toString("hex")}`;
let targets: TargetDatabase[] = [];
let projectId = "";
const instanceId = `i-${prefix}`;

const V1 = "CREATE TABLE orders (id bigint PRIMARY KEY)";
const V2 = "ALTER TABLE orders ADD COLUMN status text";
const R = "-- runway:type=data\nINSERT INTO orders (id, status) VALUES (1, 'seed') ON CONFLICT DO NOTHING";

beforeAll(async () => {
  targets = await Promise.all(["a", "b", "c"].map(() => createTargetDatabase(prefix)));
  projectId = (await api.project()).projectId;
  const res = await api.call(api.admin, {
    method: "POST",
    url: "/api/v1/instances",
    payload: { id: instanceId, title: "Tenants", connectionUrl: targetServerUrl(), projectIds: [projectId] },
  });
  expect(res.statusCode, res.body).toBe(201);
});
afterAll(async () => {
  await Promise.all(targets.map((t) => t.drop()));
});

const post = (url: string, payload: object, who = api.releaser) => api.call(who, { method: "POST", url: `/api/v1${url}`, payload });

describe("instance databases and groups", () => {
  it("lists the instance's databases on the target, and never the control database", async () => {
    const res = await post(`/instances/${instanceId}/databases/refresh`, {});
    expect(res.statusCode, res.body).toBe(200);
    const list = res.json();
    for (const t of targets) expect(list.databases).toContain(t.name);
    expect(list.databases).not.toContain(api.t.name);
    expect(list.listedAt).not.toBeNull();
    const again = await api.call(api.viewer, { method: "GET", url: `/api/v1/instances/${instanceId}/databases` });
    expect(again.json().databases).toEqual(list.databases);
  });

  it("resolves a group: pattern, includes, excludes; missing includes reported", async () => {
    const [a, b, c] = targets.map((t) => t.name).sort();
    const res = await post(`/projects/${projectId}/database-groups`, {
      name: "tenants",
      instanceId,
      pattern: `${prefix}_*`,
      excludes: [c],
      includes: ["no_such_db"],
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().resolved).toBe(2);
    const r = await api.call(api.viewer, { method: "GET", url: `/api/v1/projects/${projectId}/database-groups/tenants/resolution` });
    expect(r.json()).toMatchObject({ databases: [a, b], missing: ["no_such_db"] });
    const viewer = await post(`/projects/${projectId}/database-groups`, { name: "x", instanceId, pattern: "*" }, api.viewer);
    expect(viewer.statusCode).toBe(403);
    const put = await api.call(api.releaser, {
      method: "PUT",
      url: `/api/v1/projects/${projectId}/database-groups/tenants`,
      payload: { instanceId, pattern: `${prefix}_*` },
    });
    expect(put.json().resolved).toBe(3);
  });
});

describe("releases", () => {
  let releaseId = "";
  const files = [
    { name: "migrations/V1__create_orders.sql", content: V1 },
    { name: "migrations/V2__add_status.sql", content: V2 },
    { name: "migrations/R__seed.sql", content: R },
    { name: "migrations/README.md", content: "not SQL" },
  ];

  it("stores files immutably with a content hash; the same files again are the same release", async () => {
    const res = await post(`/projects/${projectId}/releases`, { title: "Orders", files });
    expect(res.statusCode, res.body).toBe(201);
    const rel = res.json();
    expect(rel).toMatchObject({ fileCount: 3, ignored: ["migrations/README.md"] });
    expect(rel.contentHash).toMatch(/^[0-9a-f]{64}$/);
    releaseId = rel.id;
    const again = await post(`/projects/${projectId}/releases`, { title: "Orders again", files, contentHash: rel.contentHash });
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(releaseId);
    const wrong = await post(`/projects/${projectId}/releases`, { title: "x", files, contentHash: "0".repeat(64) });
    expect(errorOf(wrong)).toMatchObject({ status: 400, code: "INVALID_ARGUMENT", details: { reason: "CONTENT_HASH_MISMATCH" } });
    await expect(
      adminQuery(`UPDATE release_file SET statement = 'DROP TABLE orders' WHERE release_id = ${releaseId}`).catch(() => "refused"),
    ).resolves.toBe("refused");
    const got = await api.call(api.viewer, { method: "GET", url: `/api/v1/projects/${projectId}/releases/${releaseId}` });
    expect(got.json().files.map((f: { name: string }) => f.name)).toEqual(["V1__create_orders.sql", "V2__add_status.sql", "R__seed.sql"]);
    const list = await api.call(api.viewer, { method: "GET", url: `/api/v1/projects/${projectId}/releases` });
    expect(list.json().releases[0].id).toBe(releaseId);
  });

  it("takes a zip and a multipart folder upload", async () => {
    const zip = zipSync({ "m/V1__create_orders.sql": strToU8(V1), "m/V3__idx.sql": strToU8("CREATE INDEX ON orders (status)") });
    const z = await api.call(api.releaser, {
      method: "POST",
      url: `/api/v1/projects/${projectId}/releases/upload?title=zipped`,
      headers: { "content-type": "application/zip" },
      payload: Buffer.from(zip),
    });
    expect(z.statusCode, z.body).toBe(201);
    expect(z.json()).toMatchObject({ title: "zipped", fileCount: 2 });
    const boundary = "----runway" + randomBytes(4).toString("hex");
    const part = (name: string, body: string) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="${name}"\r\nContent-Type: application/sql\r\n\r\n${body}\r\n`;
    const body =
      `--${boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nfolder\r\n` +
      part("V1__create_orders.sql", V1) +
      part("V9__x.sql", "SELECT 9") +
      `--${boundary}--\r\n`;
    const m = await api.call(api.releaser, {
      method: "POST",
      url: `/api/v1/projects/${projectId}/releases/upload`,
      headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
      payload: body,
    });
    expect(m.statusCode, m.body).toBe(201);
    expect(m.json()).toMatchObject({ title: "folder", fileCount: 2 });
    const bad = await api.call(api.releaser, {
      method: "POST",
      url: `/api/v1/projects/${projectId}/releases/upload`,
      headers: { "content-type": "application/zip" },
      payload: Buffer.from("not a zip"),
    });
    expect(errorOf(bad)).toMatchObject({ status: 400, details: { reason: "RELEASE_FILE" } });
  });

  it("refuses a release whose files could never run, naming each file, its problem and where; nothing is stored", async () => {
    const before = (await api.db.selectFrom("release").select("id").execute()).length;
    const res = await post(`/projects/${projectId}/releases`, {
      title: "broken",
      files: [
        { name: "V1__ok.sql", content: "CREATE TABLE ok (id int)" },
        { name: "V2__typo.sql", content: "CREATE TABLE a (id int);\nCREATE TABEL b (id int)" },
        { name: "V3__commit.sql", content: "CREATE TABLE c (id int); COMMIT;" },
        { name: "V4__alone.sql", content: "CREATE TABLE d (id int); CREATE INDEX CONCURRENTLY d_i ON d (id)" },
        { name: "R__todo.sql", content: "-- runway:type=data\n-- fill in later" },
      ],
    });
    const err = errorOf(res);
    expect(err).toMatchObject({
      status: 400,
      code: "INVALID_ARGUMENT",
      details: {
        reason: "RELEASE_STATEMENT",
        file: "V2__typo.sql",
        refused: 4,
        files: [
          { file: "V2__typo.sql", problem: "SYNTAX_ERROR", position: 33, detail: 'syntax error at or near "TABEL"' },
          { file: "V3__commit.sql", problem: "TRANSACTION_CONTROL", statement: "COMMIT", position: 26 },
          { file: "V4__alone.sql", problem: "MUST_RUN_ALONE", position: 26 },
          { file: "R__todo.sql", problem: "NO_STATEMENT" },
        ],
      },
    });
    expect(err.message).toMatch(/^V2__typo\.sql: syntax error at or near "TABEL" at position 33; V3__commit\.sql: statement "COMMIT"/);
    // Only what is left out: no release, and the reason says so.
    const onlyUndo = await post(`/projects/${projectId}/releases`, {
      title: "undo",
      files: [
        { name: "U1__undo.sql", content: "DROP TABLE orders" },
        { name: "notes.md", content: "x" },
      ],
    });
    expect(errorOf(onlyUndo)).toMatchObject({
      status: 400,
      message: "the upload holds no change: its 2 file(s) were left out (not .sql, or Flyway's undo, baseline and callback scripts)",
      details: { reason: "RELEASE_EMPTY", ignored: ["U1__undo.sql", "notes.md"] },
    });

    // A file refused before parsing: its problem's code, and the file it clashes with.
    const clash = await post(`/projects/${projectId}/releases`, {
      title: "clash",
      files: [
        { name: "V1__a.sql", content: "SELECT 1" },
        { name: "V1.0__b.sql", content: "SELECT 2" },
        { name: "V001__c.sql", content: "SELECT 3" },
      ],
    });
    expect(errorOf(clash)).toMatchObject({
      status: 400,
      details: { reason: "RELEASE_FILE", file: "V001__c.sql", problem: "DUPLICATE_VERSION", other: "V1__a.sql", version: "001" },
    });
    expect((await api.db.selectFrom("release").select("id").execute()).length).toBe(before);
  });

  it(
    "previews from each target's ledger, creates the rollout, runs it, and then finds every version applied",
    { timeout: 120_000 },
    async () => {
      const stages = [
        { environment: "staging", targets: [{ instanceId, database: targets[0]!.name }] },
        { environment: "prod", targets: [{ group: "tenants" }] },
      ];
      const preview = await post(`/projects/${projectId}/releases/${releaseId}/preview`, { stages });
      expect(preview.statusCode, preview.body).toBe(200);
      const plan = preview.json();
      expect(plan.totals).toMatchObject({ databases: 4, tasks: 12, applied: 0, changed: 0, unreadable: 0 });
      expect(plan.stages[1].groups[0]).toMatchObject({ name: "tenants", databases: 3 });
      expect(plan.stages[0].databases[0].pending).toEqual(["V1__create_orders.sql", "V2__add_status.sql", "R__seed.sql"]);

      // Only the staging database this time: the same rollout the JSON API would create by hand.
      const created = await post(`/projects/${projectId}/releases/${releaseId}/rollouts`, {
        title: "Orders to staging",
        stages: [stages[0]],
      });
      expect(created.statusCode, created.body).toBe(201);
      const rolloutId = created.json().rollout.id;
      const tasks = (await api.call(api.viewer, { method: "GET", url: `/api/v1/rollouts/${rolloutId}/tasks` })).json().tasks;
      expect(
        tasks.map((t: { schemaVersion: string | null; type: string; statement: string }) => [t.schemaVersion, t.type, t.statement]),
      ).toEqual([
        ["1", "DATABASE_SCHEMA_UPDATE", V1],
        ["2", "DATABASE_SCHEMA_UPDATE", V2],
        ["2.R.001", "DATABASE_DATA_UPDATE", R],
      ]);

      const executor = new PostgresExecutor({ statementTimeoutMs: 60_000, secrets: testSecrets });
      const rt = await startRuntime({
        db: api.db,
        url: api.t.url,
        config: { replicaId: `rel-${prefix}`, pollIntervalMs: 200 },
        executorFor: () => executor,
      });
      try {
        const run = await post(`/rollouts/${rolloutId}/tasks/run`, { taskIds: tasks.map((t: { id: string }) => t.id) });
        expect(run.statusCode, run.body).toBeLessThan(300);
        await waitFor(
          async () => {
            const r = (await api.call(api.viewer, { method: "GET", url: `/api/v1/rollouts/${rolloutId}` })).json();
            return r.statusCounts.DONE === 3 ? r : null;
          },
          { timeoutMs: 60_000, what: "the three tasks to be DONE" },
        );
      } finally {
        await rt.stop();
        await executor.close();
      }

      const after = (await post(`/projects/${projectId}/releases/${releaseId}/preview`, { stages })).json();
      expect(after.stages[0].databases[0]).toMatchObject({ pending: [], applied: 3, changed: [] });
      // The staging database is in the group too: applied in both stages.
      expect(after.totals).toMatchObject({ tasks: 6, applied: 6 });

      // Someone edits an applied migration: flagged, not re-run.
      const edited = await post(`/projects/${projectId}/releases`, {
        title: "Orders, V2 edited",
        files: [
          { name: "V1__create_orders.sql", content: V1 },
          { name: "V2__add_status.sql", content: V2 + " NOT NULL DEFAULT 'new'" },
          { name: "V3__more.sql", content: "SELECT 3" },
        ],
      });
      const e = (await post(`/projects/${projectId}/releases/${edited.json().id}/preview`, { stages: [stages[0]] })).json();
      expect(e.stages[0].databases[0]).toMatchObject({ pending: ["V3__more.sql"], applied: 1, changed: ["V2__add_status.sql"] });
      const c = await post(`/projects/${projectId}/releases/${edited.json().id}/rollouts`, { stages: [stages[0]] });
      expect(c.statusCode, c.body).toBe(201);
      expect(c.json().totals.tasks).toBe(1);
      expect(c.json().rollout.statusCounts.NOT_STARTED).toBe(1);

      const nothing = await post(`/projects/${projectId}/releases/${releaseId}/rollouts`, { stages: [stages[0]] });
      expect(errorOf(nothing)).toMatchObject({ code: "FAILED_PRECONDITION", details: { reason: "NOTHING_PENDING" } });
    },
  );

  it("a stage whose group names no database (a pattern's typo) refuses the rollout, instead of 'nothing pending'", async () => {
    const g = await post(`/projects/${projectId}/database-groups`, { name: "typo", instanceId, pattern: `${prefix}x_*` });
    expect(g.json().resolved).toBe(0);
    const stages = [
      { environment: "staging", targets: [{ instanceId, database: targets[0]!.name }] },
      { environment: "prod", targets: [{ group: "typo" }] },
    ];
    const p = (await post(`/projects/${projectId}/releases/${releaseId}/preview`, { stages })).json();
    expect(p.stages[1]).toMatchObject({ databases: [], groups: [{ name: "typo", databases: 0 }] });
    const c = await post(`/projects/${projectId}/releases/${releaseId}/rollouts`, { stages });
    expect(errorOf(c)).toMatchObject({
      code: "FAILED_PRECONDITION",
      message: 'stage "prod" names no database (group "typo" matches none)',
      details: { reason: "STAGE_EMPTY", stages: [{ environment: "prod", groups: ["typo"] }] },
    });
  });

  it("flags an unreadable ledger and refuses to plan a rollout without it", async () => {
    const stages = [{ environment: "prod", targets: [{ instanceId, database: "no_such_database_here" }] }];
    const p = (await post(`/projects/${projectId}/releases/${releaseId}/preview`, { stages })).json();
    expect(p.totals.unreadable).toBe(1);
    const c = await post(`/projects/${projectId}/releases/${releaseId}/rollouts`, { stages });
    expect(errorOf(c)).toMatchObject({ code: "FAILED_PRECONDITION", details: { reason: "LEDGER_UNREADABLE" } });
  });
});
