import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterEach, beforeEach, inject } from "vitest";
import { withDatabase } from "../../src/db/url.js";
import { createDb, createPool, type Db } from "../../src/store/db.js";

export function serverUrl(): string {
  return inject("pgUrl");
}

/** The test server as the non-superuser target role (global-setup.ts): what instances connect as. */
export function targetServerUrl(): string {
  return inject("pgTargetUrl");
}

export async function adminQuery(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: serverUrl() });
  await c.connect();
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  pool: pg.Pool;
  db: Db;
  close(): Promise<void>;
}

/** A fresh control database cloned from the migrated template (fast: no migrations per file). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `runway_t_${randomBytes(5).toString("hex")}`;
  await adminQuery(`CREATE DATABASE ${name} TEMPLATE runway_template`);
  // Like a real control database: only its owner may connect, so the target role cannot reach it.
  await adminQuery(`REVOKE CONNECT, TEMPORARY ON DATABASE ${name} FROM PUBLIC`);
  const url = withDatabase(serverUrl(), name);
  const pool = createPool(url, 10, "runway test");
  const db = createDb(pool);
  return {
    name,
    url,
    pool,
    db,
    close: async () => {
      await db.destroy();
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

export interface TargetDatabase {
  name: string;
  url: string;
  /** Runs one query on its own connection (what the test sees on the target, outside any executor). */
  query<T extends pg.QueryResultRow>(sql: string): Promise<T[]>;
  drop(): Promise<void>;
}

/** A target database for executors (on the same server, owned by the non-superuser target role). */
export async function createTargetDatabase(prefix = "target"): Promise<TargetDatabase> {
  const name = `${prefix}_${randomBytes(5).toString("hex")}`;
  await adminQuery(`CREATE DATABASE ${name} OWNER ${new URL(targetServerUrl()).username}`);
  const url = withDatabase(targetServerUrl(), name);
  return {
    name,
    url,
    query: async <T extends pg.QueryResultRow>(sql: string) => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        return (await c.query<T>(sql)).rows;
      } finally {
        await c.end();
      }
    },
    drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then(() => undefined),
  };
}

/** Polls `fn` until it returns a truthy value or the deadline passes (no fixed sleeps). */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | null | false>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? "condition"}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 20));
  }
}

/**
 * A fresh control database for each test of the file (created before it, dropped after it). The object
 * returned reads the current test's database, so a file declares it once: `const t = useTestDatabase()`.
 */
export function useTestDatabase(): TestDatabase {
  let current: TestDatabase | undefined;
  beforeEach(async () => {
    current = await createTestDatabase();
  });
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  const get = (): TestDatabase => {
    if (!current) throw new Error("useTestDatabase(): the database exists only inside the file's tests and hooks");
    return current;
  };
  return {
    get name() {
      return get().name;
    },
    get url() {
      return get().url;
    },
    get pool() {
      return get().pool;
    },
    get db() {
      return get().db;
    },
    close: () => get().close(),
  };
}

/** Whether some session holds the advisory lock `key` in the database `pool` reaches (other tests' databases have their own). */
export async function advisoryLockHeld(pool: pg.Pool, key: number): Promise<boolean> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [key],
  );
  return rows[0]!.n > 0;
}
