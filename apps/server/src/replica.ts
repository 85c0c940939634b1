import type { FastifyInstance } from "fastify";
import type { Config } from "./config.js";
import { startEmbeddedPostgres, type EmbeddedHandle } from "./db/embedded.js";
import { Listener } from "./db/listener.js";
import { migrate } from "./db/migrate.js";
import { createDb, createPool } from "./store/db.js";
import { Metrics } from "./metrics.js";
import { SchedulerRuntime, type RuntimeStrategies } from "./scheduler/runtime.js";
import { systemClock } from "./scheduler/clock.js";
import { PostgresExecutor, type PostgresExecutorOptions } from "./executors/postgres.js";
import { LedgerReconciler } from "./executors/ledger-reconciler.js";
import type { TargetReconciler } from "./executors/types.js";
import { seedDemo } from "./demo.js";
import { buildApp } from "./app.js";

/**
 * What a replica may be started with instead of the production parts. Only the chaos harness's
 * self-tests use it (chaos/src/broken-replica.ts): a broken pass lock, broken ownership rules, an
 * executor without the target fence.
 */
export interface ReplicaOverrides extends RuntimeStrategies {
  executor?: (opts: PostgresExecutorOptions) => PostgresExecutor;
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
export async function startReplica(config: Config, overrides: ReplicaOverrides = {}): Promise<ReplicaHandle> {
  let embedded: EmbeddedHandle | undefined;
  let url = config.databaseUrl;
  if (!url) {
    console.log(`Starting embedded PostgreSQL (data in ${config.dataDir}, port ${config.embeddedPgPort})…`);
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort });
    url = embedded.url;
  }
  await migrate(url);
  const pool = createPool(url, 20, `runway ${config.replicaId}`);
  const db = createDb(pool);
  const metrics = new Metrics();
  const executorOptions: PostgresExecutorOptions = {
    statementTimeoutMs: config.statementTimeoutMs,
    idleInTransactionTimeoutMs: Math.floor(config.leaseTtlMs * 0.75),
    poolSize: config.concurrency,
  };
  const executor = overrides.executor ? overrides.executor(executorOptions) : new PostgresExecutor(executorOptions);
  const listener = new Listener(url, (err) => console.error("listener connection error", err));
  const app = await buildApp({ db, pool, config, metrics, databaseUrl: url, listener });
  const log = app.log;
  if (config.demo) {
    const rolloutId = await seedDemo(db, url, systemClock.now());
    if (rolloutId) log.info({ rolloutId }, "seeded the demo project and rollout");
  }
  const runtime = new SchedulerRuntime(config, {
    db,
    clock: systemClock,
    executorFor: () => executor,
    reconciler: overrides.reconciler ?? new LedgerReconciler(),
    listener,
    metrics,
    log,
    strategies: { ...(overrides.passLock ? { passLock: overrides.passLock } : {}), ...(overrides.ownership ? { ownership: overrides.ownership } : {}) },
  });
  // After the change feed and the schedulers registered their channels: one LISTEN round.
  await listener.start();
  await runtime.start();
  await app.listen({ port: config.port, host: config.host });
  log.info({ replicaId: config.replicaId }, `Runway is listening on http://${config.host}:${config.port}`);

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      log.info("draining: no new claims; waiting for running tasks");
      await app.close().catch(() => undefined);
      await runtime.drain(config.drainGraceMs);
      await listener.close();
      await executor.close();
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
