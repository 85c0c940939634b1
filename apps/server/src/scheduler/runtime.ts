import type { TaskType } from "@runway/shared";
import { Listener } from "../db/listener.js";
import { Channel, type Db } from "../store/db.js";
import { replicaHeartbeat, replicaRegister } from "../store/replicas.js";
import type { Executor } from "../executors/types.js";
import type { Metrics } from "../metrics.js";
import type { Clock } from "./clock.js";
import { Loop } from "./loop.js";
import { PendingScheduler, type PassResult } from "./pending-scheduler.js";
import { RunningScheduler } from "./running-scheduler.js";
import { Sweeper } from "./sweeper.js";

export interface RuntimeOptions {
  db: Db;
  databaseUrl: string;
  clock: Clock;
  replicaId: string;
  concurrency: number;
  pollIntervalMs: number;
  leaseTtlMs: number;
  heartbeatIntervalMs: number;
  sweepIntervalMs: number;
  fullPassIntervalMs: number;
  executorFor: (type: TaskType) => Executor;
  metrics?: Metrics;
  /** See Config.testBreak: only the chaos harness's self-test sets it. */
  testBreak?: "lock" | "fencing";
  log: { info: (o: object, msg?: string) => void; error: (o: object, msg?: string) => void };
  /** Test signal: called after every pending pass this replica ran. */
  onPass?: (r: PassResult) => void;
}

/** A frozen lock holder is cut off within half a lease, so recovery still fits lease + sweep interval. */
const lockIdleTimeout = (leaseTtlMs: number) => Math.max(1000, Math.floor(leaseTtlMs / 2));

/**
 * Wires one replica's loops: pending scheduler, running scheduler, heartbeat + lease renewal, sweeper.
 * NOTIFY wakes them within milliseconds; a jittered poll is the backstop.
 */
export class SchedulerRuntime {
  readonly pending: PendingScheduler;
  readonly running: RunningScheduler;
  readonly sweeper: Sweeper;
  readonly listener: Listener;
  private readonly loops: { pending: Loop; running: Loop; heartbeat: Loop; sweep: Loop };

  constructor(private readonly o: RuntimeOptions) {
    const onError = (name: string, err: unknown) => o.log.error({ err, loop: name }, `${name} loop failed`);
    this.pending = new PendingScheduler({
      db: o.db,
      clock: o.clock,
      replicaId: o.replicaId,
      fullPassIntervalMs: o.fullPassIntervalMs,
      lockIdleTimeoutMs: lockIdleTimeout(o.leaseTtlMs),
      unsafeSkipLock: o.testBreak === "lock",
      onPass: (r) => {
        o.metrics?.passDuration.observe({ kind: r.kind }, r.durationMs / 1000);
        o.metrics?.promoted.inc(r.promoted);
        if (r.nextRunAt) this.loops.pending.wakeAt(r.nextRunAt);
        if (r.more) this.loops.pending.wake();
        // Our own running scheduler need not wait for the NOTIFY to come back from PostgreSQL.
        if (r.promoted > 0) this.loops.running.wake();
        o.onPass?.(r);
      },
    });
    this.running = new RunningScheduler({
      db: o.db,
      clock: o.clock,
      replicaId: o.replicaId,
      concurrency: o.concurrency,
      leaseTtlMs: o.leaseTtlMs,
      executorFor: o.executorFor,
      unsafeNoFence: o.testBreak === "fencing",
      onClaim: (runs, now) => {
        o.metrics?.claims.inc(runs.length);
        for (const r of runs) o.metrics?.pickupLatency.observe(Math.max(0, now.getTime() - r.availableAt.getTime()) / 1000);
      },
      onFinish: (run, outcome, written) => {
        o.metrics?.finished.inc({ status: written ? outcome.status : "LOST" });
      },
      onError: (err) => o.log.error({ err }, "execution failed"),
      onSlotFree: () => this.loops.running.wake(),
    });
    this.sweeper = new Sweeper({
      db: o.db,
      clock: o.clock,
      replicaId: o.replicaId,
      lockIdleTimeoutMs: lockIdleTimeout(o.leaseTtlMs),
      onSweep: (r) => {
        o.metrics?.recovered.inc({ outcome: "requeued" }, r.requeued);
        o.metrics?.recovered.inc({ outcome: "failed" }, r.failed);
        o.log.info(r, "recovered runs with expired leases");
      },
    });
    this.loops = {
      pending: new Loop("pending", () => this.pending.runOnce(), { intervalMs: o.pollIntervalMs, onError }),
      running: new Loop("running", () => this.running.runOnce(), { intervalMs: o.pollIntervalMs, onError }),
      heartbeat: new Loop("heartbeat", () => this.heartbeat(), { intervalMs: o.heartbeatIntervalMs, jitter: 0.1, onError }),
      sweep: new Loop("sweep", () => this.sweeper.runOnce(), { intervalMs: o.sweepIntervalMs, onError }),
    };
    this.listener = new Listener(o.databaseUrl, (err) => o.log.error({ err }, "listener connection error"));
    this.listener.on(Channel.PENDING, () => this.loops.pending.wake());
    this.listener.on(Channel.AVAILABLE, () => this.loops.running.wake());
    this.listener.on(Channel.CANCEL, (payload) => {
      if (payload === null) return void this.running.renewOnce().catch((err) => onError("cancel", err));
      try {
        this.running.cancel((JSON.parse(payload) as { runIds: string[] }).runIds);
      } catch (err) {
        onError("cancel", err);
      }
    });
  }

  private async heartbeat(): Promise<void> {
    await replicaHeartbeat(this.o.db, { replicaId: this.o.replicaId, now: this.o.clock.now() });
    await this.running.renewOnce();
  }

  async start(): Promise<void> {
    await replicaRegister(this.o.db, { replicaId: this.o.replicaId, now: this.o.clock.now() });
    await this.listener.start();
    for (const loop of Object.values(this.loops)) loop.start();
  }

  /** SIGTERM: stop claiming, let executions finish within `graceMs`, release the rest, stop the loops. */
  async drain(graceMs: number): Promise<void> {
    await this.loops.running.stop();
    await replicaHeartbeat(this.o.db, { replicaId: this.o.replicaId, now: this.o.clock.now(), stopping: true }).catch(() => undefined);
    await this.running.drain(graceMs);
    await Promise.all([this.loops.pending.stop(), this.loops.sweep.stop(), this.loops.heartbeat.stop()]);
    await this.listener.close();
  }
}
