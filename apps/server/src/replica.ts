import type { FastifyInstance } from "fastify";
import { describeConfig, type Config } from "./config.js";
import { Listener } from "./db/listener.js";
import { withStartupRetry } from "./db/startup-retry.js";
import { Metrics } from "./metrics.js";
import { SchedulerRuntime, type RuntimeStrategies } from "./scheduler/runtime.js";
import { LocalRuns } from "./scheduler/local-runs.js";
import { idleBoundMs } from "./scheduler/ownership.js";
import { PostgresExecutor, type PostgresExecutorOptions } from "./executors/postgres.js";
import type { TargetReconciler } from "./executors/types.js";
import { seedDemo } from "./demo.js";
import { buildApp } from "./app.js";
import { openControl, type Control } from "./control.js";
import { createPassDb } from "./store/db.js";
import { startInstanceLister } from "./scheduler/instance-lister.js";
import { deliveryBackoffMs } from "./domain/webhooks.js";

/**
 * What a replica may be started with instead of the production parts. Only the chaos harness's
 * self-tests use it (chaos/src/broken-replica.ts): a broken pass lock, broken ownership rules, an
 * executor without the target fence.
 */
export interface ReplicaOverrides extends RuntimeStrategies {
  executor?: (opts: PostgresExecutorOptions) => PostgresExecutor;
  /**
   * The process clock (epoch ms) the replica measures the control database's clock against; a skewed
   * one shows the replica behaves the same whatever its own clock says.
   */
  processClock?: () => number;
  /** Settles runs whose owner was lost (the sweeper); default: the executor, on its own connections. */
  reconciler?: TargetReconciler;
}

export interface ReplicaHandle {
  app: FastifyInstance;
  runtime: SchedulerRuntime;
  /** Drains (within config.drainGraceMs) and closes everything. */
  stop(): Promise<void>;
}

/**
 * One replica: database (embedded unless DATABASE_URL), migrations, one LISTEN connection, scheduler
 * loops, HTTP server. SIGTERM/SIGINT drain it and end the process.
 */
export async function startReplica(
  config: Config,
  overrides: ReplicaOverrides = {},
  /** The control database, opened already (main.ts starts it while this module loads); default: opened here. */
  control?: Promise<Control>,
): Promise<ReplicaHandle> {
  const { embedded, url, pool, db, trust, clock } = await (control ?? openControl(config, overrides.processClock));
  const metrics = new Metrics();
  const executorOptions: PostgresExecutorOptions = {
    statementTimeoutMs: config.statementTimeoutMs,
    idleInTransactionTimeoutMs: idleBoundMs(config.leaseTtlMs),
    poolSize: config.concurrency,
    ledgerRetryMs: config.targetRetryMs,
    guard: trust.guard,
    secrets: trust.secrets,
  };
  const executor = overrides.executor ? overrides.executor(executorOptions) : new PostgresExecutor(executorOptions);
  const listener = new Listener(url, (err) => console.error("listener connection error", err));
  const runs = new LocalRuns();
  const app = await buildApp({ db, pool, config, metrics, databaseUrl: url, listener, clock, trust, sessions: executor, runs });
  const log = app.log;
  log.info({ config: describeConfig(config) }, "effective configuration");
  if (trust.sealed > 0) log.info({ sealed: trust.sealed }, "encrypted stored secrets that were still in plaintext");
  if (config.demo) {
    // The demo needs a role of its own on the server (CREATEROLE); without it, Runway starts without the demo.
    const rolloutId = await seedDemo(db, url, clock.now(), trust.secrets).catch((err: unknown) => {
      log.warn({ err }, "the demo was not seeded");
      return null;
    });
    if (rolloutId) log.info({ rolloutId }, "seeded the demo project and rollout");
  }
  // The pending passes' own session (RuntimeDeps.passDb); the full pass's readers come from the shared pool.
  const passDb = createPassDb(url, `runway ${config.replicaId} pass`);
  const runtime = new SchedulerRuntime(config, {
    db,
    passDb,
    clock,
    executorFor: () => executor,
    reconciler: overrides.reconciler ?? executor,
    dryRunner: executor,
    listener,
    metrics,
    log,
    webhooks: {
      secrets: trust.secrets,
      publicUrl: config.publicUrl,
      timeoutMs: config.webhookTimeoutMs,
      backoffMs: (n) => deliveryBackoffMs(n, config.webhookRetryBaseMs, config.webhookRetryMaxMs),
    },
    strategies: {
      ...(overrides.passLock ? { passLock: overrides.passLock } : {}),
      ...(overrides.ownership ? { ownership: overrides.ownership } : {}),
    },
  });
  runs.attach(runtime.running);
  // After the change feed and the schedulers registered their channels: one LISTEN round.
  await listener.start();
  await withStartupRetry("registration", () => runtime.register());
  // Listening before the loops' first passes: those open most of the pool's connections and run the first
  // (full) pending pass, which a deploy tool's first /readyz would otherwise wait behind (issue 20). The
  // replica is registered and its database checked already; the loops start right after.
  await app.listen({ port: config.port, host: config.host });
  runtime.startLoops();
  const lister = startInstanceLister({ db, listener, clock, trust, log, everyMs: config.instanceListingIntervalMs });
  log.info({ replicaId: config.replicaId }, `Runway is listening on http://${config.host}:${config.port}`);
  // Harmless (the database's clock decides), but an operator wants to know the host's clock is off.
  const skew = clock.estimate;
  if (skew && Math.abs(skew.offsetMs) > 5000)
    log.warn(skew, "this host's clock differs from the control database's; the database's is used");

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      log.info("draining: no new claims; waiting for running tasks");
      await app.close().catch(() => undefined);
      await runtime.drain(config.drainGraceMs);
      await lister.stop();
      await listener.close();
      await executor.close();
      await passDb.destroy();
      await db.destroy();
      await embedded?.stop();
    })());
  const onSignal = (signal: string) => {
    log.info({ signal }, "signal received");
    void stop().finally(() => process.exit(0));
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
  return { app, runtime, stop };
}
