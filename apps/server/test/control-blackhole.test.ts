import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../src/app.js";
import { Listener } from "../src/db/listener.js";
import { Metrics } from "../src/metrics.js";
import { SchedulerRuntime } from "../src/scheduler/runtime.js";
import { CONTROL_BOUNDS, createDb, createPool, type ControlBounds } from "../src/store/db.js";
import { tasksRun } from "../src/store/task-actions.js";
import { ADMIN_PASSWORD, login, testConfig, testSecrets } from "./helpers/api.js";
import { TargetGuard } from "../src/executors/target-guard.js";
import { controlIdentity } from "../src/store/control.js";
import { useReconciler } from "./helpers/reconciler.js";
import { BlackholeProxy } from "./helpers/blackhole-proxy.js";
import { createTestDatabase, waitFor, type TestDatabase } from "./helpers/db.js";
import { DeferredExecutor } from "./helpers/executors.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";

/**
 * Regression (issue 10, bug 4): control-plane connections that die silently (no RST) hung every loop of
 * a replica for good. The production bounds are tens of seconds (store/db.ts); these tests shorten the
 * pool's so they take seconds, and keep the listener's defaults.
 */
const reconciler = useReconciler();
const SHORT: ControlBounds = { ...CONTROL_BOUNDS, statementTimeoutMs: 4_000, queryTimeoutMs: 5_000, connectTimeoutMs: 4_000 };

let t: TestDatabase;
let proxy: BlackholeProxy;
const cleanups: (() => Promise<unknown>)[] = [];
beforeEach(async () => {
  t = await createTestDatabase();
  proxy = await new BlackholeProxy(Number(new URL(t.url).port)).listen();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await proxy.close();
  await t.close();
});

describe("control-plane connections that go silent", () => {
  it("the replica's loops recover by themselves: heartbeats resume and new runs are claimed", async () => {
    const url = proxy.url(t.url);
    const pool = createPool(url, 10, "runway r1", SHORT);
    cleanups.push(() => pool.end());
    const { projectId, instanceId } = await seedProject(t.db);
    const { rolloutId, taskIds } = await seedRollout(
      t.db,
      projectId,
      [task(instanceId, "a", { type: "DATABASE_DATA_UPDATE" }), task(instanceId, "b", { type: "DATABASE_DATA_UPDATE" })],
      { run: false },
    );
    await tasksRun(t.db, { rolloutId, taskIds: [taskIds[0]!], runAt: null, actor: "t", now: new Date() });
    const exec = new DeferredExecutor();
    const listener = new Listener(url);
    const rt = new SchedulerRuntime(
      {
        replicaId: "r1",
        concurrency: 2,
        pollIntervalMs: 200,
        leaseTtlMs: 60_000,
        heartbeatIntervalMs: 300,
        sweepIntervalMs: 300,
        fullPassIntervalMs: 60_000,
        targetRetryMs: 600_000,
      },
      {
        db: createDb(pool),
        clock: { now: () => new Date() },
        listener,
        executorFor: () => exec,
        reconciler,
        log: { info: () => undefined, error: () => undefined },
      },
    );
    await rt.start();
    await listener.start();
    cleanups.push(async () => {
      exec.finishAll();
      await rt.drain(2_000);
      await listener.close();
    });
    await waitFor(async () => exec.executing.length === 1, { what: "first run claimed" });
    const heartbeat = async () =>
      (await t.db.selectFrom("replica").select("heartbeat_at").where("id", "=", "r1").executeTakeFirstOrThrow()).heartbeat_at;

    proxy.blackholeExisting(); // the old primary is gone without a reset; the address reaches a healthy server
    const silencedAt = Date.now();
    await waitFor(async () => new Date(await heartbeat()).getTime() > silencedAt + 500, {
      timeoutMs: 45_000,
      intervalMs: 200,
      what: "heartbeat after the black hole",
    });
    // The listener and the running loop are back too: a new run is claimed.
    await tasksRun(t.db, { rolloutId, taskIds: [taskIds[1]!], runAt: null, actor: "t", now: new Date() });
    await waitFor(async () => exec.executing.length === 2, { timeoutMs: 45_000, what: "second run claimed" });
    console.log(JSON.stringify({ recoveredWithinMs: Date.now() - silencedAt, bounds: SHORT }));
  }, 120_000);

  it("the LISTEN connection notices with its own ping, reconnects, and says so (null), then delivers again", async () => {
    const seen: (string | null)[] = [];
    const listener = new Listener(proxy.url(t.url));
    listener.on("bh_test", (p) => seen.push(p));
    await listener.start();
    cleanups.push(() => listener.close());
    const notify = (payload: string) => t.pool.query("SELECT pg_notify('bh_test', $1)", [payload]);
    await notify("before");
    await waitFor(async () => seen.includes("before"), { what: "first notification" });
    proxy.blackholeExisting();
    const silencedAt = Date.now();
    await waitFor(async () => seen.includes(null), { timeoutMs: 30_000, intervalMs: 100, what: "listener reconnect" });
    const detectedMs = Date.now() - silencedAt;
    await waitFor(async () => (await notify("after"), seen.includes("after")), {
      timeoutMs: 10_000,
      intervalMs: 200,
      what: "notification after reconnect",
    });
    console.log(JSON.stringify({ listenerReconnectedAfterMs: detectedMs }));
    expect(detectedMs).toBeLessThan(20_000); // ping every 5 s, answered within 5 s
  }, 60_000);

  it("/readyz answers 503 DATABASE_UNREACHABLE quickly while the database is unreachable, the API does not hang, and both recover", async () => {
    const url = proxy.url(t.url);
    const pool = createPool(url, 10, "runway api", SHORT);
    cleanups.push(() => pool.end());
    const app: FastifyInstance = await buildApp({
      trust: { secrets: testSecrets, guard: new TargetGuard(await controlIdentity(t.db)) },
      db: createDb(pool),
      pool,
      config: testConfig(),
      metrics: new Metrics(),
      databaseUrl: url,
      dashboardDir: "/nonexistent-dashboard",
      changeWindowMs: 10,
      print: () => undefined,
    });
    cleanups.push(() => app.close());
    const admin = await login(app, "admin", ADMIN_PASSWORD);
    expect((await app.inject({ method: "GET", url: "/readyz" })).json()).toEqual({ status: "ready" });

    proxy.blackholeAll();
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      const res = await app.inject({ method: "GET", url: "/readyz" });
      const ms = Date.now() - t0;
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ status: "not ready", code: "DATABASE_UNREACHABLE" });
      expect(ms).toBeLessThan(5_000); // READY_TIMEOUT_MS is 2 s
    }
    // An API call answers (503, retry later) within the pool's bounds instead of hanging.
    const t0 = Date.now();
    const res = await app.inject({ method: "GET", url: "/api/v1/projects", headers: admin.headers });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: { code: "UNAVAILABLE" } });
    expect(Date.now() - t0).toBeLessThan(SHORT.queryTimeoutMs + SHORT.connectTimeoutMs + 5_000);

    proxy.heal();
    await waitFor(async () => (await app.inject({ method: "GET", url: "/readyz" })).statusCode === 200, {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: "ready again",
    });
    await waitFor(async () => (await app.inject({ method: "GET", url: "/api/v1/projects", headers: admin.headers })).statusCode === 200, {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: "API again",
    });
  }, 120_000);

  it("a pooled session has the statement timeout; a query on a dead connection fails within the client bound and the pool replaces it", async () => {
    const pool = createPool(proxy.url(t.url), 1, "runway bound", SHORT);
    cleanups.push(() => pool.end());
    expect((await pool.query<{ statement_timeout: string }>("SHOW statement_timeout")).rows[0]!.statement_timeout).toBe("4s");
    proxy.blackholeExisting();
    const t0 = Date.now();
    await expect(pool.query("SELECT 1")).rejects.toThrow(/Query read timeout/);
    expect(Date.now() - t0).toBeLessThan(SHORT.queryTimeoutMs + 5_000);
    // The only pooled connection was dropped, not reused: the next query opens a fresh one.
    expect((await pool.query<{ ok: number }>("SELECT 1 AS ok")).rows).toEqual([{ ok: 1 }]);
  }, 60_000);
});
