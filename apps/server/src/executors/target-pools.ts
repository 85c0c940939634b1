import pg from "pg";
import { LRUCache } from "lru-cache";

export interface TargetPoolOptions {
  /** Connections per target database (a replica never runs more than its concurrency at once). */
  size: number;
  /** Target databases with a pool; the least recently used one is closed beyond this. */
  maxPools: number;
  /** An idle connection is closed after this long. */
  idleMs: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  /** application_name of an idle pooled session (a run names itself for the time it runs). */
  applicationName: string;
  /** Refuses sessions that reach the control plane (target-guard.ts); checked before a session is used. */
  guard?: { check(client: pg.ClientBase, url: string): Promise<void> };
}

/**
 * Pooled connections to target databases, one pg.Pool per database URL. Opening a connection costs a
 * backend fork and an authentication exchange, several times the work of a trivial statement, so runs
 * reuse them; an LRU bounds how many databases keep idle sessions open, since a rollout may touch
 * thousands of databases.
 */
export class TargetPools {
  private readonly pools: LRUCache<string, pg.Pool>;
  private readonly ending = new Set<Promise<void>>();

  constructor(private readonly o: TargetPoolOptions) {
    this.pools = new LRUCache<string, pg.Pool>({
      max: o.maxPools,
      // In-use clients are destroyed when released to an ended pool, so closing a busy pool is safe.
      dispose: (pool) => {
        const p = pool.end().catch(() => undefined);
        this.ending.add(p);
        void p.finally(() => this.ending.delete(p));
      },
    });
  }

  private poolFor(url: string): pg.Pool {
    let pool = this.pools.get(url);
    if (!pool) {
      pool = new pg.Pool({
        connectionString: url,
        max: this.o.size,
        idleTimeoutMillis: this.o.idleMs,
        connectionTimeoutMillis: this.o.connectTimeoutMs,
        statement_timeout: this.o.statementTimeoutMs || undefined,
        application_name: this.o.applicationName.slice(0, 63),
        allowExitOnIdle: true,
      });
      // A session ended by the server (a restart, a fence of a zombie's session) must not crash us, idle
      // (the pool's error event) or checked out (the client's; the query in flight fails).
      pool.on("error", () => undefined);
      pool.on("connect", (client) => client.on("error", () => undefined));
      this.pools.set(url, pool);
    }
    return pool;
  }

  /** A connected client for `url`; give it back with `release` (after which it must not be used). */
  async acquire(url: string): Promise<pg.PoolClient> {
    const client = await this.poolFor(url).connect();
    try {
      await this.o.guard?.check(client, url);
    } catch (e) {
      client.release(true);
      throw e;
    }
    return client;
  }

  /**
   * Returns a client to its pool, first clearing whatever session state the run's statement left (SET
   * without LOCAL, temporary tables, session advisory locks, prepared statements). A client that saw an
   * error or cannot be reset is closed instead.
   */
  release(client: pg.PoolClient, broken: boolean): void {
    if (broken) return client.release(true);
    client.query("DISCARD ALL").then(
      () => client.release(),
      (err: Error) => client.release(err),
    );
  }

  /** A one-off connection (not pooled): the cancel of a running statement, CREATE DATABASE. */
  async connectOnce(url: string, applicationName: string): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: url,
      application_name: applicationName.slice(0, 63),
      statement_timeout: this.o.statementTimeoutMs || undefined,
      connectionTimeoutMillis: this.o.connectTimeoutMs,
    });
    client.on("error", () => undefined);
    try {
      await client.connect();
      await this.o.guard?.check(client, url);
    } catch (e) {
      await client.end().catch(() => undefined);
      throw e;
    }
    return client;
  }

  async close(): Promise<void> {
    this.pools.clear();
    await Promise.all([...this.ending]);
  }
}
