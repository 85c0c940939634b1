import { promises as fs } from "node:fs";
import { runner } from "node-pg-migrate";
import pg from "pg";
import { MIGRATIONS_DIR } from "../paths.js";

export { MIGRATIONS_DIR };
const MIGRATIONS_TABLE = "pgmigrations";

/** Applies every numbered SQL file in `migrations/` not yet applied, in order, under node-pg-migrate's lock. */
const MIGRATE_LOCK = 7_301_000;

/**
 * Replicas starting together must not fail: node-pg-migrate's own lock fails instead of waiting, so we
 * wait on a session advisory lock of our own and run the migrator without its lock.
 */
export async function migrate(databaseUrl: string, log: (msg: string) => void = () => undefined): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: "runway migrate" });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATE_LOCK]);
    await runMigrations(databaseUrl, log);
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATE_LOCK]).catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}

async function runMigrations(databaseUrl: string, log: (msg: string) => void): Promise<void> {
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
