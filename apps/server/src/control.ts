import type { Config } from "./config.js";
import { startEmbeddedPostgres, type EmbeddedHandle } from "./db/embedded.js";
import { migrate } from "./db/migrate.js";
import { withStartupRetry } from "./db/startup-retry.js";
import { createDb, createPool, type Db } from "./store/db.js";
import { ControlClock, monotonicWallClock } from "./scheduler/clock.js";
import { startTrust, type Trust } from "./trust.js";
import type pg from "pg";

/** The control database side of a replica, ready to use: migrated, the secret key proven, the clock read. */
export interface Control {
  /** Set when Runway started its own PostgreSQL (no DATABASE_URL); stopped last. */
  embedded: EmbeddedHandle | undefined;
  url: string;
  pool: pg.Pool;
  db: Db;
  trust: Trust & { sealed: number };
  clock: ControlClock;
}

/**
 * Everything a replica must know about its control database before it may serve: started here, apart
 * from the HTTP and scheduler modules, so that its round trips run while those (most of the start's CPU,
 * issue 20) load — main.ts calls this first and imports replica.js while the promise is pending. The
 * module imports only the database side (pg, kysely, the migration check, the key), which keeps it small.
 */
export async function openControl(config: Config, processClock: () => number = monotonicWallClock): Promise<Control> {
  let embedded: EmbeddedHandle | undefined;
  let url = config.databaseUrl;
  if (!url) {
    console.log(`Starting embedded PostgreSQL (data in ${config.dataDir}, port ${config.embeddedPgPort})…`);
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort });
    url = embedded.url;
  }
  const dbUrl = url;
  // Each step waits out a control database that is unreachable or restarting (bounded; db/startup-retry.ts).
  const pool = createPool(url, 20, `runway ${config.replicaId}`);
  const db = createDb(pool);
  await withStartupRetry("migrations", () => migrate(dbUrl, undefined, pool)).catch(async (err: unknown) => {
    await db.destroy().catch(() => undefined);
    throw err;
  });
  // Run-at times, leases, sessions and cursors are judged by the control database's clock, never this
  // process's: the first readings are taken before anything uses it, the heartbeat refreshes it.
  const clock = ControlClock.of(db, processClock);
  // Both need the migrated schema and nothing of each other: their round trips overlap.
  const [trust] = await Promise.all([
    // Refuses to start with a wrong or missing secret key, before anything could fail runs with it.
    withStartupRetry("secret key check", () => startTrust(db, config)),
    withStartupRetry("clock", () => clock.sync()),
  ]).catch(async (err: unknown) => {
    await db.destroy().catch(() => undefined);
    throw err;
  });
  return { embedded, url, pool, db, trust, clock };
}
