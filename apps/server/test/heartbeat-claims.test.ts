import net from "node:net";
import { describe, expect, it } from "vitest";
import { Heartbeat } from "../src/scheduler/heartbeat.js";
import { createDb, createPool } from "../src/store/db.js";
import { waitFor, useTestDatabase } from "./helpers/db.js";
import { DeferredExecutor } from "./helpers/executors.js";
import { seedProject, seedRollout, task } from "./helpers/fixtures.js";
import { startRuntime } from "./helpers/runtime.js";

/**
 * Bug 4 (heartbeat part): a replica that cannot write its heartbeat stops claiming, keeps executing what it
 * has, and resumes by itself after a successful beat.
 */

/**
 * A loopback TCP proxy to PostgreSQL that black-holes (no data, no close, no RST) every connection on which
 * the client sends bytes containing `swallow`, from that moment on. `heal()` stops that and closes the
 * black-holed connections, as TCP keepalives (or a client-side query bound) would eventually notice them.
 * Minimal on purpose; chaos has its own.
 */
class BlackholeProxy {
  private readonly conns = new Set<{ client: net.Socket; up: net.Socket; dead: boolean }>();
  private readonly server: net.Server;
  private swallow: string | undefined;

  constructor(upstreamPort: number) {
    this.server = net.createServer((client) => {
      const up = net.connect(upstreamPort, "127.0.0.1");
      const c = { client, up, dead: false };
      this.conns.add(c);
      const drop = () => {
        this.conns.delete(c);
        client.destroy();
        up.destroy();
      };
      client.on("error", drop);
      up.on("error", drop);
      client.on("close", () => !c.dead && drop());
      up.on("close", () => !c.dead && drop());
      client.on("data", (d: Buffer) => {
        if (this.swallow !== undefined && d.includes(this.swallow)) c.dead = true;
        if (!c.dead) up.write(d);
      });
      up.on("data", (d: Buffer) => {
        if (!c.dead) client.write(d);
      });
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    return (this.server.address() as net.AddressInfo).port;
  }

  blackholeWhen(text: string): void {
    this.swallow = text;
  }

  heal(): void {
    this.swallow = undefined;
    for (const c of [...this.conns])
      if (c.dead) {
        this.conns.delete(c);
        c.client.destroy();
        c.up.destroy();
      }
  }

  async close(): Promise<void> {
    for (const c of this.conns) {
      c.client.destroy();
      c.up.destroy();
    }
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

const t = useTestDatabase();

const runOf = async (taskId: string) =>
  t.db.selectFrom("task_run").select(["id", "status", "owner_replica"]).where("task_id", "=", taskId).executeTakeFirstOrThrow();

/** Asserts `check` holds for `ms` (absence can only be shown over a window), polling it. */
async function holdsFor(ms: number, check: () => Promise<void>): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    await check();
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("a replica that cannot heartbeat claims nothing", () => {
  it("stops claiming while its heartbeat hangs on a black-holed connection, keeps executing, and resumes once a beat gets through", async () => {
    const proxy = new BlackholeProxy(Number(new URL(t.url).port));
    const u = new URL(t.url);
    u.port = String(await proxy.listen());
    const pool = createPool(u.toString(), 10, "runway r1");
    const { projectId, instanceId } = await seedProject(t.db);
    const a = await seedRollout(t.db, projectId, [task(instanceId, "a")]);
    const exec = new DeferredExecutor();
    // Scheduler statements go through the proxy; the LISTEN connection does not (not what this is about).
    const r = await startRuntime({
      db: createDb(pool),
      url: t.url,
      config: { replicaId: "r1", concurrency: 2, pollIntervalMs: 200, leaseTtlMs: 15_000, heartbeatIntervalMs: 300, sweepIntervalMs: 300 },
      executorFor: () => exec,
    });
    try {
      await waitFor(async () => exec.executing.length === 1, { what: "the first run to be claimed" });
      const first = await runOf(a.taskIds[0]!);

      // The connection the next heartbeat is written on goes silent; every other statement still gets through.
      proxy.blackholeWhen("INSERT INTO replica");
      await waitFor(async () => !r.runtime.heartbeat.healthy(), { what: "the replica to notice its heartbeat is stale" });

      const b = await seedRollout(t.db, projectId, [task(instanceId, "b")]);
      await waitFor(async () => (await runOf(b.taskIds[0]!)).status === "AVAILABLE", { what: "the second run to be promoted" });
      await holdsFor(1500, async () => {
        expect((await runOf(b.taskIds[0]!)).status).toBe("AVAILABLE");
        expect(exec.started).toHaveLength(1);
      });
      // The run it had goes on, and its outcome is written; the finish claims nothing in passing either.
      expect(exec.executing).toEqual([first.id]);
      exec.finish(first.id);
      await waitFor(async () => (await runOf(a.taskIds[0]!)).status === "DONE", { what: "the first run's outcome" });
      await holdsFor(500, async () => {
        expect((await runOf(b.taskIds[0]!)).status).toBe("AVAILABLE");
      });
      expect(r.runtime.heartbeat.healthy()).toBe(false);

      proxy.heal();
      await waitFor(async () => exec.executing.length === 1, { what: "claiming to resume after a good heartbeat" });
      expect(await runOf(b.taskIds[0]!)).toMatchObject({ status: "RUNNING", owner_replica: "r1" });
      expect(r.runtime.heartbeat.healthy()).toBe(true);
    } finally {
      proxy.heal();
      exec.finishAll();
      await r.stop();
      await pool.end();
      await proxy.close();
    }
  }, 60_000);

  it("is unhealthy after a failed beat or none for too long, and reports its recovery once", async () => {
    let renewFails = false;
    let recovered = 0;
    const hb = new Heartbeat({
      db: t.db,
      clock: { now: () => new Date() },
      replicaId: "r1",
      renewLeases: async () => {
        if (renewFails) throw new Error("lease renewal not written");
      },
      staleAfterMs: 3000,
      onRecovered: () => recovered++,
    });
    expect(hb.healthy()).toBe(false);
    await hb.register();
    expect(hb.healthy()).toBe(true);
    expect(recovered).toBe(1);
    await hb.runOnce();
    expect(recovered).toBe(1);

    renewFails = true;
    await expect(hb.runOnce()).rejects.toThrow("lease renewal not written");
    expect(hb.healthy()).toBe(false);
    renewFails = false;
    await hb.runOnce();
    expect(hb.healthy()).toBe(true);
    expect(recovered).toBe(2);

    // No beat at all (one hanging) is as bad as a failed one once it is older than staleAfterMs.
    await waitFor(async () => !hb.healthy(), { timeoutMs: 15_000, what: "the last beat to go stale" });
  });
});
