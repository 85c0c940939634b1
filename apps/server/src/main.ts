import { loadConfig } from "./config.js";
import { startEmbeddedPostgres, type EmbeddedHandle } from "./db/embedded.js";
import { migrate } from "./db/migrate.js";
import { createDb, createPool } from "./store/db.js";
import { Metrics } from "./metrics.js";
import { SchedulerRuntime } from "./scheduler/runtime.js";
import { systemClock } from "./scheduler/clock.js";
import { PostgresExecutor } from "./executors/postgres.js";
import { seedDemo } from "./demo.js";
import { buildApp } from "./app.js";
import { startTrust } from "./trust.js";

/** Process entry: database (embedded unless DATABASE_URL), migrations, scheduler loops, HTTP server. */
async function main(): Promise<void> {
  const config = loadConfig();
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
  const trust = await startTrust(db, config);
  const metrics = new Metrics();
  const executor = new PostgresExecutor({
    statementTimeoutMs: config.statementTimeoutMs,
    idleInTransactionTimeoutMs: Math.floor(config.leaseTtlMs * 0.75),
    poolSize: config.concurrency,
    guard: trust.guard,
    secrets: trust.secrets,
  });
  const app = await buildApp({ db, pool, config, metrics, databaseUrl: url, trust });
  const log = app.log;
  if (trust.sealed > 0) log.info({ sealed: trust.sealed }, "encrypted stored secrets that were still in plaintext");
  if (config.demo) {
    // The demo needs a role of its own on the server (CREATEROLE); without it, Runway starts without the demo.
    const rolloutId = await seedDemo(db, url, systemClock.now(), trust.secrets).catch((err: unknown) => {
      log.warn({ err }, "the demo was not seeded");
      return null;
    });
    if (rolloutId) log.info({ rolloutId }, "seeded the demo project and rollout");
  }
  const runtime = new SchedulerRuntime({
    db,
    databaseUrl: url,
    clock: systemClock,
    replicaId: config.replicaId,
    concurrency: config.concurrency,
    pollIntervalMs: config.pollIntervalMs,
    leaseTtlMs: config.leaseTtlMs,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    sweepIntervalMs: config.sweepIntervalMs,
    fullPassIntervalMs: config.fullPassIntervalMs,
    executorFor: () => executor,
    testBreak: config.testBreak,
    metrics,
    log,
  });
  await runtime.start();
  await app.listen({ port: config.port, host: config.host });
  log.info({ replicaId: config.replicaId }, `Runway is listening on http://${config.host}:${config.port}`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "draining: no new claims; waiting for running tasks");
    await app.close().catch(() => undefined);
    await runtime.drain(config.drainGraceMs);
    await executor.close();
    await db.destroy();
    await embedded?.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
