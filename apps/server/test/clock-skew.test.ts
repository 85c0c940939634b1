import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sql } from "kysely";
import { ControlClock, monotonicWallClock } from "../src/scheduler/clock.js";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { Sweeper } from "../src/scheduler/sweeper.js";
import type { Db } from "../src/store/db.js";
import { taskRunsClaim } from "../src/store/runs.js";
import { createTargetDatabase, createTestDatabase, waitFor, type TargetDatabase, type TestDatabase } from "./helpers/db.js";
import { DeferredExecutor } from "./helpers/executors.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";
import { startRuntime } from "./helpers/runtime.js";
import { ADMIN_PASSWORD, buildTestApp, login, testConfig } from "./helpers/api.js";
import { useReconciler } from "./helpers/reconciler.js";

/**
 * Bug 10: the control database's clock decides run-at and lease expiry. Each replica here counts with a
 * process clock ten minutes off (injected: the clock it measures the database's against), and must behave
 * exactly like one whose clock is right.
 */
const reconciler = useReconciler();
const TEN_MIN = 10 * 60_000;
const OFFSETS = [TEN_MIN, -TEN_MIN];

/** A replica's clock whose process clock is `offsetMs` off. */
function replicaClock(db: Db, offsetMs: number): ControlClock {
  return ControlClock.of(db, () => monotonicWallClock() + offsetMs);
}

let t: TestDatabase;
let target: TargetDatabase;
beforeEach(async () => {
  t = await createTestDatabase();
  target = await createTargetDatabase();
});
afterEach(async () => {
  await t.close();
  await target.drop();
});

async function dbNowMs(): Promise<number> {
  const { rows } = await sql<{ ms: number }>`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms`.execute(t.db);
  return rows[0]!.ms;
}

describe("replica clocks do not decide run-at or lease expiry", () => {
  it.each(OFFSETS)("a replica whose clock is %d ms off promotes a run due in 2 s after 2 s of database time", async (offsetMs) => {
    const { projectId, instanceId } = await seedProject(t.db, { instanceUrl: target.url });
    await seedRollout(t.db, projectId, [task(instanceId, "a")], { runAt: new Date((await dbNowMs()) + 2000) });
    // Watch from before the replica starts, by the database's clock: when the run leaves PENDING, was it due?
    let seen: { status: string; due: boolean; late_ms: number } | undefined;
    let watching = true;
    const watch = (async () => {
      while (watching && !seen) {
        const { rows } = await sql<{ status: string; due: boolean; late_ms: number }>`
          SELECT status, clock_timestamp() >= run_at AS due,
                 (extract(epoch FROM clock_timestamp() - run_at) * 1000)::float8 AS late_ms FROM task_run`.execute(t.db);
        if (rows[0]!.status !== "PENDING") seen = rows[0];
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const exec = new DeferredExecutor();
    // Polls a minute apart: the run-at wake-up (Loop.wakeAt) is what must promote it.
    const r = await startRuntime({
      db: t.db,
      url: t.url,
      config: { replicaId: "skewed", pollIntervalMs: 60_000, fullPassIntervalMs: 600_000, heartbeatIntervalMs: 500 },
      clock: replicaClock(t.db, offsetMs),
      executorFor: () => exec,
    });
    try {
      await waitFor(async () => seen, { timeoutMs: 30_000, what: "the run to leave PENDING" });
      expect(seen!.due).toBe(true);
      // Not ten minutes late, nor a poll interval: the wake-up came at the run-at (bound loose for a loaded machine).
      expect(seen!.late_ms).toBeLessThan(8000);
      // The promotion is stamped with the database's time too (AVAILABLE, or RUNNING when the pass claimed it
      // for its replica's free slot in the promote).
      const { rows } = await sql<{ ok: boolean }>`
        SELECT l.at >= r.run_at AND l.at <= clock_timestamp() AS ok FROM task_run_log l JOIN task_run r ON r.id = l.task_run_id
        WHERE l.type = 'STATUS' AND l.payload->>'from' = 'PENDING'`.execute(t.db);
      expect(rows).toEqual([{ ok: true }]);
    } finally {
      watching = false;
      await watch;
      exec.finishAll();
      await r.stop();
    }
  });

  it.each(OFFSETS)("a replica whose clock is %d ms off writes leases and heartbeats a right clock would", async (offsetMs) => {
    const { projectId, instanceId } = await seedProject(t.db, { instanceUrl: target.url });
    await seedRollout(t.db, projectId, [task(instanceId, "a")]);
    const exec = new DeferredExecutor();
    const leaseTtlMs = 4000;
    const r = await startRuntime({
      db: t.db,
      url: t.url,
      config: { replicaId: "skewed", pollIntervalMs: 200, leaseTtlMs, heartbeatIntervalMs: 300, sweepIntervalMs: 300 },
      clock: replicaClock(t.db, offsetMs),
      executorFor: () => exec,
    });
    // A replica with a right clock sweeping beside it.
    const right = replicaClock(t.db, 0);
    await right.sync();
    const sweeper = new Sweeper({ db: t.db, clock: right, replicaId: "right", reconciler });
    try {
      await waitFor(async () => exec.executing.length === 1, { what: "the run to be claimed" });
      // Several heartbeats (each renews the lease) while the right-clocked replica sweeps.
      const first = (await t.db.selectFrom("replica").select("heartbeat_at").where("id", "=", "skewed").executeTakeFirstOrThrow())
        .heartbeat_at;
      await waitFor(
        async () => {
          await sweeper.runOnce();
          const hb = (await t.db.selectFrom("replica").select("heartbeat_at").where("id", "=", "skewed").executeTakeFirstOrThrow())
            .heartbeat_at;
          return new Date(hb).getTime() - new Date(first).getTime() >= 1500;
        },
        { timeoutMs: 30_000, intervalMs: 100, what: "heartbeats over 1.5 s" },
      );
      const { rows } = await sql<{
        status: string;
        owner_replica: string | null;
        lease_epoch: number;
        lease_left_ms: number;
        hb_age_ms: number;
      }>`
        SELECT r.status, r.owner_replica, r.lease_epoch,
               (extract(epoch FROM r.lease_expires_at - clock_timestamp()) * 1000)::float8 AS lease_left_ms,
               (extract(epoch FROM clock_timestamp() - p.heartbeat_at) * 1000)::float8 AS hb_age_ms
        FROM task_run r, replica p WHERE p.id = 'skewed'`.execute(t.db);
      const row = rows[0]!;
      expect(row.status).toBe("RUNNING");
      expect(row.owner_replica).toBe("skewed");
      expect(row.lease_epoch).toBe(exec.started[0]!.epoch);
      expect(row.lease_left_ms).toBeGreaterThan(0);
      expect(row.lease_left_ms).toBeLessThanOrEqual(leaseTtlMs + 1000);
      expect(row.hb_age_ms).toBeGreaterThan(-1000);
      expect(row.hb_age_ms).toBeLessThan(leaseTtlMs);
      expect(exec.executing).toHaveLength(1);
    } finally {
      exec.finishAll();
      await r.stop();
    }
  });

  it("a sweeper whose clock is fast does not take a healthy run; one whose clock is slow takes an expired run in time", async () => {
    const { projectId, instanceId } = await seedProject(t.db, { instanceUrl: target.url });
    await seedRollout(t.db, projectId, [task(instanceId, "a"), task(instanceId, "b")]);
    const right = replicaClock(t.db, 0);
    await right.sync();
    await new PendingScheduler({ db: t.db, clock: right, replicaId: "p", fullPassIntervalMs: 1e12 }).runOnce();
    const run = async (id: string) =>
      t.db.selectFrom("task_run").select(["status", "owner_replica", "lease_epoch"]).where("id", "=", id).executeTakeFirstOrThrow();

    // A lease with a minute left: a sweeper ten minutes fast must leave it alone.
    const [healthy] = await taskRunsClaim(t.db, { replicaId: "owner", limit: 1, leaseTtlMs: 60_000, now: right.now() });
    const fast = replicaClock(t.db, TEN_MIN);
    await fast.sync();
    const fastSweeper = new Sweeper({ db: t.db, clock: fast, replicaId: "fast", reconciler });
    for (let i = 0; i < 3; i++) await fastSweeper.runOnce();
    expect(await run(healthy!.id)).toEqual({ status: "RUNNING", owner_replica: "owner", lease_epoch: healthy!.epoch });

    // A lease that ran out by the database's clock: a sweeper ten minutes slow recovers it now, not in ten minutes.
    const [expiring] = await taskRunsClaim(t.db, { replicaId: "owner", limit: 1, leaseTtlMs: 300, now: right.now() });
    await waitFor(
      async () =>
        (
          await sql<{ ok: boolean }>`SELECT lease_expires_at < clock_timestamp() AS ok FROM task_run WHERE id = ${expiring!.id}`.execute(
            t.db,
          )
        ).rows[0]!.ok,
      { what: "the short lease to expire by the database's clock" },
    );
    const slow = replicaClock(t.db, -TEN_MIN);
    await slow.sync();
    const slowSweeper = new Sweeper({ db: t.db, clock: slow, replicaId: "slow", reconciler });
    await waitFor(
      async () => {
        await slowSweeper.runOnce();
        return (await run(expiring!.id)).status !== "RUNNING";
      },
      { timeoutMs: 10_000, intervalMs: 100, what: "the expired run to be recovered" },
    );
    expect(await run(healthy!.id)).toEqual({ status: "RUNNING", owner_replica: "owner", lease_epoch: healthy!.epoch });
  });

  it.each(OFFSETS)(
    "the API of a replica whose clock is %d ms off stamps sessions and audit entries by the database's clock",
    async (offsetMs) => {
      const clock = replicaClock(t.db, offsetMs);
      await clock.sync();
      const app = await buildTestApp(t, { clock });
      try {
        await login(app, "admin", ADMIN_PASSWORD);
        const { rows } = await sql<{ expires_in_ms: number; audit_age_ms: number }>`
        SELECT (extract(epoch FROM s.expires_at - clock_timestamp()) * 1000)::float8 AS expires_in_ms,
               (SELECT (extract(epoch FROM clock_timestamp() - max(a.at)) * 1000)::float8 FROM audit_log a) AS audit_age_ms
        FROM user_session s`.execute(t.db);
        const ttl = testConfig().sessionTtlMs;
        expect(rows[0]!.expires_in_ms).toBeGreaterThan(ttl - 60_000);
        expect(rows[0]!.expires_in_ms).toBeLessThanOrEqual(ttl + 1000);
        expect(rows[0]!.audit_age_ms).toBeGreaterThan(-1000);
        expect(rows[0]!.audit_age_ms).toBeLessThan(60_000);
      } finally {
        await app.close();
      }
    },
  );
});
