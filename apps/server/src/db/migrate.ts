import { promises as fs } from "node:fs";
import pg from "pg";
import { MIGRATIONS_DIR } from "../paths.js";

export { MIGRATIONS_DIR };
const MIGRATIONS_TABLE = "pgmigrations";

/** Applies every numbered SQL file in `migrations/` not yet applied, in order, under node-pg-migrate's lock. */
const MIGRATE_LOCK = 7_301_000;

/**
 * Replicas starting together must not fail: node-pg-migrate's own lock fails instead of waiting, so we
 * wait on a session advisory lock of our own and run the migrator without its lock.
 *
 * The usual start has nothing to apply, and that is read first without the lock, on `pool` when given (the
 * connection it opens serves the replica next: one connection and two round trips fewer at start, issue 20).
 * Reading without the lock is safe: a migrator applies in one transaction, so its rows are all or none; a
 * read that misses them takes the lock, which waits for that migrator, and reads again.
 */
export async function migrate(databaseUrl: string, log: (msg: string) => void = () => undefined, pool?: pg.Pool): Promise<void> {
  if (pool && (await nothingToApply(pool))) return;
  const client = new pg.Client({ connectionString: databaseUrl, application_name: "runway migrate" });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATE_LOCK]);
    // node-pg-migrate (~15 MiB and ~0.2 s to load) is not needed when another replica applied everything.
    if (await nothingToApply(client)) return;
    await runMigrations(databaseUrl, log);
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATE_LOCK]).catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}

/**
 * True exactly when node-pg-migrate's runner would apply nothing and raise nothing: the applied migrations,
 * in the order it reads them, begin with every file in name order (a newer release may have applied more:
 * a previous release's replica then starts as it would under the runner). Anything else goes to the runner.
 */
async function nothingToApply(client: pg.ClientBase | pg.Pool): Promise<boolean> {
  const files = (await migrationFiles()).sort((a, b) => numericPrefix(a) - numericPrefix(b) || a.localeCompare(b));
  const res = await client
    .query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY run_on, id`)
    .catch((e: { code?: string }) => {
      if (e.code === "42P01") return undefined;
      throw e;
    });
  if (!res || res.rows.length < files.length) return false;
  return files.every((f, i) => res.rows[i]!.name === f);
}

/** Migration names (file names without `.sql`). */
async function migrationFiles(): Promise<string[]> {
  return (await fs.readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith(".sql")).map((f) => f.replace(/\.sql$/, ""));
}
const numericPrefix = (name: string) => Number.parseInt(name, 10);

async function runMigrations(databaseUrl: string, log: (msg: string) => void): Promise<void> {
  const { runner } = await import("node-pg-migrate");
  await runner({
    noLock: true,
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: "up",
    migrationsTable: MIGRATIONS_TABLE,
    count: Infinity,
    singleTransaction: true,
    checkOrder: true,
    log,
    logger: { debug: () => undefined, info: log, warn: log, error: log },
  });
}

/**
 * True when every migration file has been applied (used by /readyz). A database that has never been
 * migrated (no migrations table) is not current; any other error (an unreachable database) is thrown.
 */
export async function migrationsCurrent(db: pg.Pool | pg.ClientBase): Promise<boolean> {
  const files = (await fs.readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith(".sql"));
  const res = await db.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE}`).catch((e: { code?: string }) => {
    if (e.code === "42P01") return undefined;
    throw e;
  });
  if (!res) return false;
  const applied = new Set(res.rows.map((r) => r.name));
  return files.every((f) => applied.has(f.replace(/\.sql$/, "")));
}
