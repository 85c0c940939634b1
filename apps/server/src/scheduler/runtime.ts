import type { TaskType } from "@runway/shared";
import type { Config } from "../config.js";
import { Listener } from "../db/listener.js";
import { Channel, type Db } from "../store/db.js";
import type { PassLock } from "../store/gating.js";
import type { Executor, TargetReconciler } from "../executors/types.js";
import type { Metrics } from "../metrics.js";
import type { Clock } from "./clock.js";
import { Heartbeat, heartbeatStaleAfterMs } from "./heartbeat.js";
import { Loop } from "./loop.js";
import type { Ownership } from "./ownership.js";
import { PendingScheduler, type PassResult } from "./pending-scheduler.js";
import { ReplicaPruner } from "./replica-pruner.js";
import { RunningScheduler } from "./running-scheduler.js";
import { defaultClaimAhead } from "./executor-slots.js";
import { Sweeper } from "./sweeper.js";
import { WebhookDelivery, type WebhookDeliveryDeps } from "./webhook-delivery.js";
import { DryRunScheduler } from "./dry-run-scheduler.js";
import { DRY_RUN_CHANNEL } from "../store/dry-runs.js";
import type { DryRunner } from "../executors/dry-run.js";

/** The settings the loops read. */
export type RuntimeConfig = Pick<
  Config,
  | "replicaId"
  | "concurrency"
  | "pollIntervalMs"
  | "leaseTtlMs"
  | "heartbeatIntervalMs"
  | "sweepIntervalMs"
  | "fullPassIntervalMs"
  | "targetRetryMs"
> &
  Partial<Pick<Config, "claimAhead" | "fullPassBatch" | "fullPassFirstBatch">>;

/** Strategies a replica may be started with instead of the production ones (the chaos self-tests). */
export interface RuntimeStrategies {
  passLock?: PassLock;
  ownership?: Ownership;
}

export interface RuntimeDeps {
  db: Db;
  /**
   * The pending passes' own session, a pool of one (createPassDb): a pass's statements are prepared and planned
   * once per replica there, instead of on whichever of the shared pool's sessions was free (the live read's
   * generic plan takes ~60 ms to make; a 3-replica drain made it 11 times). Default: `db`.
   */
  passDb?: Db;
  /**
   * The control database's clock in production (ControlClock): every time the loops pass to SQL and every
   * run-at they wait for is on it. Its `sync` runs before the first loop and on every heartbeat.
   */
  clock: Clock;
  executorFor: (type: TaskType) => Executor;
  /** Settles runs whose owner was lost, on their target (the sweeper). */
  reconciler: TargetReconciler;
  /** The replica's one LISTEN connection, shared with the dashboard's change feed. */
  listener: Listener;
  metrics?: Metrics;
  log: { info: (o: object, msg?: string) => void; error: (o: object, msg?: string) => void };
  strategies?: RuntimeStrategies;
  /** Webhook delivery (a replica always has it; scheduler tests may leave it out). */
  webhooks?: Pick<WebhookDeliveryDeps, "secrets" | "publicUrl" | "timeoutMs" | "backoffMs">;
  /** Runs dry runs (issue 15; scheduler/dry-run-scheduler.ts); without one, this replica runs none. */
  dryRunner?: DryRunner;
  /** Test signal: called after every pending pass this replica ran. */
  onPass?: (r: PassResult) => void;
  /** Test signal: a pending pass found the lock held elsewhere (another replica's pass, a dry-run claim). */
  onLockHeld?: () => void;
}

/** A frozen lock holder is cut off within half a lease, so recovery still fits lease + sweep interval. */
const lockIdleTimeout = (leaseTtlMs: number) => Math.max(1000, Math.floor(leaseTtlMs / 2));
/** Forgetting long-gone replicas is housekeeping: once a minute is plenty. */
const PRUNE_INTERVAL_MS = 60_000;
/** How long startLoops() waits for a loop's first pass before it starts the next loop anyway. */
const FIRST_PASS_WAIT_MS = 250;
/**
 * How long a replica whose pass found the lock taken defers its next try. Every finish wakes every replica's
 * pending loop, and with the lock held the others' tries (BEGIN, lock statement, COMMIT) did nothing: 2,634
 * of them against 62 passes in a 3-replica gated benchmark. Deferring loses nothing: the holder gets the
 * same NOTIFY and passes again after its current pass if it came during it (Loop's wake-up coalescing), or
 * tries like anyone when it came after. The replica tries again when the time ends in any case, so a holder
 * that passes no more (a dry-run claim, a replica that died holding the lock) delays the work by about this
 * long, where it used to wait for the next NOTIFY or the poll interval.
 */
export const PASS_HELD_ELSEWHERE_MS = 50;

/**
 * Wires one replica's loops: pending scheduler, running scheduler, heartbeat + lease renewal, sweeper,
 * replica pruning. NOTIFY wakes them within milliseconds; a jittered poll is the backstop.
 */
export class SchedulerRuntime {
  readonly pending: PendingScheduler;
  readonly running: RunningScheduler;
  readonly sweeper: Sweeper;
  readonly heartbeat: Heartbeat;
  readonly webhooks: WebhookDelivery | undefined;
  readonly dryRuns: DryRunScheduler | undefined;
  private draining = false;
  private readonly loops: { pending: Loop; running: Loop; heartbeat: Loop; sweep: Loop; prune: Loop; webhooks?: Loop; dryRun?: Loop };
  private readonly unlisten: (() => void)[] = [];

  constructor(
    private readonly config: RuntimeConfig,
    private readonly d: RuntimeDeps,
  ) {
    const { db, clock, metrics } = d;
    const { replicaId } = config;
    const onError = (name: string, err: unknown) => d.log.error({ err, loop: name }, `${name} loop failed`);
    const every = (intervalMs: number, jitter?: number) => ({ intervalMs, onError, clock, ...(jitter !== undefined ? { jitter } : {}) });
    this.pending = new PendingScheduler({
      db: d.passDb ?? db,
      readersDb: db,
      clock,
      replicaId,
      fullPassIntervalMs: config.fullPassIntervalMs,
      ...(config.fullPassBatch !== undefined ? { fullPassBatchSize: config.fullPassBatch } : {}),
      ...(config.fullPassFirstBatch !== undefined ? { fullPassFirstBatchSize: config.fullPassFirstBatch } : {}),
      lockIdleTimeoutMs: lockIdleTimeout(config.leaseTtlMs),
      ...(d.strategies?.passLock ? { lock: d.strategies.passLock } : {}),
      claimSlots: () => this.running.hold(),
      startedAt: () => this.heartbeat.registeredAt,
      onPass: (r) => {
        metrics?.passDuration.observe({ kind: r.kind }, r.durationMs / 1000);
        metrics?.promoted.inc(r.promoted);
        if (r.nextRunAt) this.loops.pending.wakeAt(r.nextRunAt);
        if (r.more) this.loops.pending.wake();
        // Our own running scheduler need not wait for the NOTIFY to come back from PostgreSQL (for runs
        // the pass did not claim for it already).
        if (r.promoted > r.claimed) this.loops.running.wake();
        d.onPass?.(r);
      },
    });
    this.running = new RunningScheduler({
      db,
      clock,
      replicaId,
      concurrency: config.concurrency,
      claimAhead: config.claimAhead ?? defaultClaimAhead(config.concurrency),
      leaseTtlMs: config.leaseTtlMs,
      executorFor: d.executorFor,
      targetRetryMs: config.targetRetryMs,
      reconciler: d.reconciler,
      ...(d.strategies?.ownership ? { ownership: d.strategies.ownership } : {}),
      onClaim: (runs, now) => {
        metrics?.claims.inc(runs.length);
        for (const r of runs) metrics?.pickupLatency.observe(Math.max(0, now.getTime() - r.availableAt.getTime()) / 1000);
      },
      onFinish: (_run, outcome, written) => {
        metrics?.finished.inc({ status: written ? outcome.status : "LOST" });
      },
      onError: (err) => d.log.error({ err }, "execution failed"),
      onSlotFree: () => this.loops.running.wake(),
      mayClaim: () => this.heartbeat.healthy(),
    });
    this.sweeper = new Sweeper({
      db,
      clock,
      replicaId,
      reconciler: d.reconciler,
      onSweep: (r) => {
        metrics?.recovered.inc({ outcome: "requeued" }, r.requeued);
        metrics?.recovered.inc({ outcome: "failed" }, r.failed);
        metrics?.recovered.inc({ outcome: "applied" }, r.applied);
        d.log.info(r, "settled runs with expired leases");
      },
    });
    this.heartbeat = new Heartbeat({
      db,
      clock,
      replicaId,
      renewLeases: () => this.running.renewOnce(),
      staleAfterMs: heartbeatStaleAfterMs(config),
      slots: config.concurrency,
      onRecovered: () => this.loops.running.wake(),
    });
    const pruner = new ReplicaPruner({ db, clock });
    this.loops = {
      pending: new Loop("pending", () => this.passOnce(), every(config.pollIntervalMs)),
      running: new Loop("running", () => this.running.runOnce(), every(config.pollIntervalMs)),
      heartbeat: new Loop("heartbeat", () => this.heartbeat.runOnce(), every(config.heartbeatIntervalMs, 0.1)),
      sweep: new Loop("sweep", () => this.sweeper.runOnce(), every(config.sweepIntervalMs)),
      prune: new Loop("prune", () => pruner.runOnce(), every(PRUNE_INTERVAL_MS)),
    };
    if (d.webhooks) {
      const webhooks = new WebhookDelivery({
        db,
        clock,
        replicaId,
        ...d.webhooks,
        onAttempt: (a) => {
          metrics?.webhookDeliveries.inc({ outcome: a.outcome });
          metrics?.webhookAttemptDuration.observe(a.durationMs / 1000);
          if (a.outcome === "delivered")
            metrics?.webhookDeliveryLatency.observe(Math.max(0, clock.now().getTime() - a.delivery.event.occurredAt.getTime()) / 1000);
          // A slot came free: claim the next due delivery.
          this.loops.webhooks?.wake();
        },
        onError: (err) => onError("webhooks", err),
      });
      this.webhooks = webhooks;
      this.loops.webhooks = new Loop("webhooks", () => webhooks.runOnce(), every(config.pollIntervalMs));
      this.unlisten.push(d.listener.on(Channel.WEBHOOK, () => this.loops.webhooks?.wake()));
    }
    if (d.dryRunner) {
      const dryRuns = new DryRunScheduler({
        db,
        clock,
        replicaId,
        runner: d.dryRunner,
        leaseTtlMs: config.leaseTtlMs,
        onSlotFree: () => this.loops.dryRun?.wake(),
        onError: (err) => d.log.error({ err }, "dry run failed"),
      });
      this.dryRuns = dryRuns;
      this.loops.dryRun = new Loop("dry-run", () => dryRuns.runOnce(), every(config.pollIntervalMs));
    }
    // Registered now, so a listener started afterwards LISTENs on every channel in one go.
    const { listener } = d;
    if (this.loops.dryRun) this.unlisten.push(listener.on(DRY_RUN_CHANNEL, () => this.loops.dryRun?.wake()));
    this.unlisten.push(
      listener.on(Channel.PENDING, () => this.loops.pending.wake()),
      listener.on(Channel.AVAILABLE, () => this.loops.running.wake()),
      listener.on(Channel.CANCEL, (payload) => {
        if (payload === null) return void this.running.renewOnce().catch((err) => onError("cancel", err));
        try {
          this.running.cancel((JSON.parse(payload) as { runIds: string[] }).runIds);
        } catch (err) {
          onError("cancel", err);
        }
      }),
    );
  }

  /** One pending pass; when another replica (or a dry-run claim) holds the lock, defers the next try. */
  private async passOnce(): Promise<void> {
    if ((await this.pending.runOnce()) !== null) return;
    this.loops.pending.quietFor(PASS_HELD_ELSEWHERE_MS);
    // And try again when the quiet time ends, wake-up or not: the holder may be a dry-run claim, or a
    // replica that died holding the lock, and neither passes after it.
    this.loops.pending.wake();
    this.d.onLockHeld?.();
  }

  async start(): Promise<void> {
    await this.register();
    void this.startLoops();
  }

  /** The replica's row (and the clock's next reading): before any loop uses either. */
  async register(): Promise<void> {
    await this.heartbeat.register();
  }

  /**
   * Starts every loop, one after another: each starts when the one before has run its first pass (or after
   * FIRST_PASS_WAIT_MS, so a slow pass holds nothing up). Started together they opened a control connection
   * each at the same moment (a backend fork and a SCRAM exchange apiece) and held /readyz back for 0.3–0.5 s
   * on two cores (issue 20); one after another they share one or two. Runs first, then pending, so that
   * work waiting at start is picked up first. After register().
   */
  startLoops(): Promise<void> {
    const { running, pending, heartbeat, sweep, prune, webhooks, dryRun } = this.loops;
    const order = [running, pending, sweep, heartbeat, webhooks, dryRun, prune].filter((l) => l !== undefined);
    return (async () => {
      for (const loop of order) {
        if (this.draining) return; // drain() stopped the loops started so far; the rest must not start after it
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([loop.start(), new Promise((r) => (timer = setTimeout(r, FIRST_PASS_WAIT_MS)))]);
        clearTimeout(timer);
      }
    })();
  }

  /** SIGTERM: stop claiming, let executions finish within `graceMs`, release the rest, stop the loops. */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    await this.loops.running.stop();
    await this.heartbeat.stopping().catch(() => undefined);
    await this.loops.dryRun?.stop();
    await Promise.all([this.running.drain(graceMs), this.dryRuns?.drain(graceMs)]);
    await Promise.all([
      this.loops.pending.stop(),
      this.loops.sweep.stop(),
      this.loops.heartbeat.stop(),
      this.loops.prune.stop(),
      this.loops.webhooks?.stop().then(() => this.webhooks?.drain()),
    ]);
    for (const off of this.unlisten.splice(0)) off();
  }
}
