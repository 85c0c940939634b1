import { createHash, randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PostgresExecutor } from "../../src/executors/postgres.js";
import { TargetGuard } from "../../src/executors/target-guard.js";
import { TargetReader } from "../../src/executors/target-reader.js";
import { InstanceLister } from "../../src/scheduler/instance-lister.js";
import { controlIdentity } from "../../src/store/control.js";
import { ledgerSnapshotsGet } from "../../src/store/ledger-snapshots.js";
import { useApiApp } from "../helpers/api-app.js";
import { testSecrets } from "../helpers/api.js";
import { createTargetDatabase, targetServerUrl, waitFor, type TargetDatabase } from "../helpers/db.js";
import { startRuntime } from "../helpers/runtime.js";

/**
 * Issue 16's ledger snapshots against real targets: a preview plans from the snapshot (and says so), a
 * change made on a target behind Runway's back makes the snapshot stale, and the executor's check of the
 * target's ledger is then the final word — a version (or an unversioned file's content) already there is
 * never applied twice. A create re-reads snapshots older than RUNWAY_LEDGER_SNAPSHOT_MAX_AGE_MS.
 */
const api = useApiApp();
const prefix = `rsn${randomBytes(3).toString("hex")}`;
let same: TargetDatabase;
let other: TargetDatabase;
let projectId = "";
const instanceId = `i-${prefix}`;

const V1 = "-- a marker\nCREATE TABLE v1_marker (id int)";
const R = "-- a marker\nCREATE TABLE r_marker (id int)";
/** The same text as a Windows checkout has it. */
const crlf = (s: string) => s.replace(/\n/g, "\r\n");
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

beforeAll(async () => {
  [same, other] = await Promise.all([createTargetDatabase(prefix), createTargetDatabase(prefix)]);
  projectId = (await api.project()).projectId;
  const res = await api.call(api.admin, {
    method: "POST",
    url: "/api/v1/instances",
    payload: { id: instanceId, title: "Tenants", connectionUrl: targetServerUrl(), projectIds: [projectId] },
  });
  expect(res.statusCode, res.body).toBe(201);
});
afterAll(async () => {
  await Promise.all([same, other].map((t) => t?.drop()));
});

const post = (url: string, payload: object) => api.call(api.releaser, { method: "POST", url: `/api/v1${url}`, payload });

/** Someone else (another installation, or by hand) records changes in a target's ledger. */
async function foreignLedger(t: TargetDatabase, rows: [string | null, string][]): Promise<void> {
  await t.query(`CREATE TABLE IF NOT EXISTS public.runway_ledger (installation_id uuid NOT NULL, task_id bigint NOT NULL,
    attempt integer NOT NULL, run_id bigint NOT NULL, schema_version text, checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (installation_id, task_id))`);
  for (const [i, [v, c]] of rows.entries())
    await t.query(
      `INSERT INTO public.runway_ledger VALUES ('${randomUUID()}', ${900 + i}, 1, ${900 + i}, ${v === null ? "NULL" : `'${v}'`}, '${c}')`,
    );
}

it(
  "plans from a stale snapshot, and the runs find the target's ledger already has the change: never applied twice",
  { timeout: 120_000 },
  async () => {
    const rel = await post(`/projects/${projectId}/releases`, {
      title: "markers",
      files: [
        { name: "V1__marker.sql", content: V1 },
        { name: "R__marker.sql", content: R },
      ],
    });
    expect(rel.statusCode, rel.body).toBe(201);
    const releaseId = rel.json().id as string;
    const stages = [{ environment: "prod", targets: [same, other].map((t) => ({ instanceId, database: t.name })) }];

    const first = (await post(`/projects/${projectId}/releases/${releaseId}/preview`, { stages })).json();
    expect(first.ledgers).toMatchObject({ readNow: 2, fromSnapshot: 0 });
    expect(first.totals).toMatchObject({ databases: 2, tasks: 4 });

    // Behind Runway's back: `same` gets both changes with the release's content (version 1 written as
    // "01"), applied from a Windows checkout (CRLF line ends: the same files); `other` gets version 1 with
    // other content.
    await foreignLedger(same, [
      ["01", sha(crlf(V1))],
      [null, sha(crlf(R))],
    ]);
    await foreignLedger(other, [["1", sha("CREATE TABLE something_else (id int)")]]);

    const second = (await post(`/projects/${projectId}/releases/${releaseId}/preview`, { stages })).json();
    expect(second.ledgers).toMatchObject({ readNow: 0, fromSnapshot: 2, oldestReadAt: first.stages[0].databases[0].readAt });
    expect(second.totals).toMatchObject({ tasks: 4, changed: 0 });

    // The snapshots are younger than the bound (300 s by default): the create plans from them too.
    const created = await post(`/projects/${projectId}/releases/${releaseId}/rollouts`, { stages });
    expect(created.statusCode, created.body).toBe(201);
    const rolloutId = created.json().rollout.id as string;
    type T = { id: string; database: string; schemaVersion: string; status: string; latestRun?: { result?: Record<string, unknown> } };
    const tasks = async () =>
      (await api.call(api.viewer, { method: "GET", url: `/api/v1/rollouts/${rolloutId}/tasks` })).json().tasks as T[];
    const all = await tasks();
    expect(all).toHaveLength(4);

    const executor = new PostgresExecutor({ statementTimeoutMs: 60_000, secrets: testSecrets });
    const rt = await startRuntime({
      db: api.db,
      url: api.t.url,
      config: { replicaId: `rsn-${prefix}`, pollIntervalMs: 200 },
      executorFor: () => executor,
    });
    let done: T[];
    try {
      const run = await post(`/rollouts/${rolloutId}/tasks/run`, { taskIds: all.map((t) => t.id) });
      expect(run.statusCode, run.body).toBeLessThan(300);
      done = await waitFor(
        async () => {
          const ts = await tasks();
          const s = ts.filter((t) => t.database === same.name);
          const o = ts.find((t) => t.database === other.name && t.schemaVersion === "1");
          return s.every((t) => t.status === "DONE") && o?.status === "FAILED" ? ts : null;
        },
        { timeoutMs: 60_000, what: "same's two tasks DONE and other's version 1 FAILED" },
      );
    } finally {
      await rt.stop();
      await executor.close();
    }
    for (const t of done.filter((x) => x.database === same.name)) expect(t.latestRun?.result).toMatchObject({ alreadyApplied: true });
    const failed = done.find((t) => t.database === other.name && t.schemaVersion === "1")!;
    expect(failed.latestRun?.result).toMatchObject({ error: { code: "VERSION_APPLIED_WITH_OTHER_CONTENT" } });
    // Not one of the release's statements reached a target.
    for (const t of [same, other]) {
      const [r] = await t.query<{ v1: string | null; r: string | null }>(
        `SELECT to_regclass('v1_marker') AS v1, to_regclass('r_marker') AS r`,
      );
      expect(r).toEqual({ v1: null, r: null });
    }

    // The runs that found their change applied wrote it into `same`'s snapshot: nothing is pending there now.
    const after = (await post(`/projects/${projectId}/releases/${releaseId}/preview`, { stages })).json();
    expect(after.stages[0].databases.find((d: { database: string }) => d.database === same.name)).toMatchObject({
      pending: [],
      applied: 2,
    });

    // With a bound of 0 a create reads every target again: `other`'s version 1 is now seen as changed.
    const strict = await api.extraApp({ env: { RUNWAY_LEDGER_SNAPSHOT_MAX_AGE_MS: "0" } });
    const again = await strict.inject({
      method: "POST",
      url: `/api/v1/projects/${projectId}/releases/${releaseId}/rollouts`,
      headers: api.releaser.headers,
      payload: { stages: [{ environment: "prod", targets: [{ instanceId, database: other.name }] }] },
    });
    expect(again.statusCode, again.body).toBe(201);
    expect(again.json().totals).toMatchObject({ tasks: 1, changed: 1 });
  },
);

it("the listing loop reads the ledgers of grouped databases whose snapshot is old, and only those", { timeout: 60_000 }, async () => {
  const g = await post(`/projects/${projectId}/database-groups`, { name: "only-same", instanceId, pattern: same.name });
  expect(g.statusCode, g.body).toBe(201);
  const before = await ledgerSnapshotsGet(
    api.db,
    [same, other].map((t) => ({ instanceId, database: t.name })),
  );
  const reader = new TargetReader({ guard: new TargetGuard(await controlIdentity(api.db)), secrets: testSecrets, concurrency: 4 });
  try {
    // Every snapshot counts as old (0 ms), every instance as due.
    const lister = new InstanceLister({ db: api.db, reader, clock: { now: () => new Date() }, everyMs: 0 });
    await lister.runOnce();
  } finally {
    await reader.close();
  }
  const after = await ledgerSnapshotsGet(
    api.db,
    [same, other].map((t) => ({ instanceId, database: t.name })),
  );
  const key = (t: TargetDatabase) => `${instanceId}\0${t.name}`;
  expect(after.get(key(same))!.readAt.getTime()).toBeGreaterThan(before.get(key(same))?.readAt.getTime() ?? 0);
  // `other` is in no group: its snapshot stays as it was.
  expect(after.get(key(other))?.readAt).toEqual(before.get(key(other))?.readAt);
});
