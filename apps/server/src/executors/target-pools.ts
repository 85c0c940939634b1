import type net from "node:net";
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
  /** Bound on opening a connection (TCP, TLS, authentication) and on waiting for a pooled one. */
  connectTimeoutMs: number;
  /**
   * Silence on a connection after which the kernel starts TCP keepalive probes. Node then probes every
   * second, ten times (net.Socket.setKeepAlive), so a path that went silent fails the socket about ten
   * seconds after this.
   */
  keepAliveIdleMs: number;
  /** Bound on the reset (DISCARD ALL) of a session given back to its pool. */
  queryTimeoutMs: number;
  /** application_name of an idle pooled session (a run names itself for the time it runs). */
  applicationName: string;
  /** Refuses sessions that reach the control plane (target-guard.ts); checked before a session is used. */
  guard?: { check(client: pg.ClientBase, url: string): Promise<void> };
}

/** The socket under a pg client (pg keeps it on `connection.stream`; not in its typings). */
function socketOf(client: pg.ClientBase): net.Socket | undefined {
  return (client as unknown as { connection?: { stream?: net.Socket } }).connection?.stream;
}

/**
 * DISCARD ALL spelled out as the statements PostgreSQL's documentation of DISCARD gives as its equivalent
 * (since PostgreSQL 10): the same reset of everything a statement can leave on a session (cursors, SET,
 * SET ROLE and SET SESSION AUTHORIZATION without LOCAL, prepared statements, LISTEN, session advisory
 * locks, cached plans, temporary tables, sequence state). DISCARD ALL itself refuses to run in a
 * transaction block, and the statements after a COMMIT or ROLLBACK in one simple-protocol query form an
 * implicit one; these do not. So the reset rides in the same query as a run's COMMIT (or ROLLBACK) instead
 * of costing a round trip of its own when the session goes back to its pool. RESET ALL puts
 * application_name back to the idle name the session was opened with: a run's name never outlives it.
 */
export const SESSION_RESET_SQL = [
  "CLOSE ALL",
  "SET SESSION AUTHORIZATION DEFAULT",
  "RESET ALL",
  "DEALLOCATE ALL",
  "UNLISTEN *",
  "SELECT pg_advisory_unlock_all()",
  "DISCARD PLANS",
  "DISCARD TEMP",
  "DISCARD SEQUENCES",
].join("; ");

/** Node's timers fire at once beyond this (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Runs a query with a client-side bound (0: none). pg reads `query_timeout` from the query config too. */
/** The row count of each statement of a (possibly multi-statement) query's result. */
export const rowCounts = (res: pg.QueryResult | pg.QueryResult[]): number[] =>
  (Array.isArray(res) ? res : [res]).map((r) => r.rowCount ?? 0);

export function boundedQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(
  client: pg.ClientBase,
  text: string,
  timeoutMs: number,
  values?: unknown[],
): Promise<pg.QueryResult<R>> {
  return client.query<R>({
    text,
    values,
    query_timeout: timeoutMs > 0 ? Math.min(Math.ceil(timeoutMs), MAX_TIMER_MS) : undefined,
  } as pg.QueryConfig);
}

/**
 * Closes the client's socket at once, without the goodbye message a silent peer would never answer.
 * A query in flight fails with "Connection terminated"; the client must still be released (broken).
 */
export function destroySocket(client: pg.ClientBase): void {
  socketOf(client)?.destroy();
}

/**
 * Pooled connections to target databases, one pg.Pool per database URL, and the one place where a
 * connection to a target is opened. Opening a connection costs a backend fork and an authentication
 * exchange, several times the work of a trivial statement, so runs reuse them; an LRU bounds how many
 * databases keep idle sessions open, since a rollout may touch thousands of databases.
 *
 * Every socket has TCP keepalives, every connect a bound, and every query issued here a client-side
 * bound: a target that goes silent (no RST: a partition, a dead host) cannot hold a caller forever.
 */
export class TargetPools {
  private readonly pools: LRUCache<string, pg.Pool>;
  private readonly ending = new Set<Promise<void>>();
  /** Every open pooled client, so closing a pool never waits on a silent peer's goodbye. */
  private readonly clients = new Map<pg.Pool, Set<pg.PoolClient>>();

  constructor(private readonly o: TargetPoolOptions) {
    this.pools = new LRUCache<string, pg.Pool>({
      max: o.maxPools,
      // In-use clients are destroyed when released to an ended pool, so closing a busy pool is safe.
      dispose: (pool) => {
        // end() also waits for connections still being opened (each bounded by the connect timeout).
        const ended = new Promise<void>((r) => setTimeout(r, o.queryTimeoutMs).unref());
        const p = Promise.race([pool.end().catch(() => undefined), ended]).then(() => this.settle(pool));
        this.ending.add(p);
        void p.finally(() => this.ending.delete(p));
      },
    });
  }

  /**
   * An ended pool has asked its clients to say goodbye; a client on a silent path never hears back. Waits
   * for them up to the query bound, then destroys what is left.
   */
  private settle(pool: pg.Pool): Promise<void> {
    const open = this.clients.get(pool) ?? new Set();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        pool.off("remove", check);
        for (const c of open) destroySocket(c);
        this.clients.delete(pool);
        resolve();
      };
      const check = () => {
        if (open.size === 0) done();
      };
      const timer = setTimeout(done, this.o.queryTimeoutMs);
      pool.on("remove", check);
      check();
    });
  }

  private clientConfig(url: string, applicationName: string, connectTimeoutMs: number): pg.ClientConfig {
    return {
      connectionString: url,
      application_name: applicationName.slice(0, 63),
      statement_timeout: this.o.statementTimeoutMs || undefined,
      connectionTimeoutMillis: Math.max(1, Math.ceil(connectTimeoutMs)),
      keepAlive: true,
      keepAliveInitialDelayMillis: this.o.keepAliveIdleMs,
    };
  }

  private poolFor(url: string): pg.Pool {
    let pool = this.pools.get(url);
    if (!pool) {
      pool = new pg.Pool({
        ...this.clientConfig(url, this.o.applicationName, this.o.connectTimeoutMs),
        max: this.o.size,
        idleTimeoutMillis: this.o.idleMs,
        allowExitOnIdle: true,
      });
      // A session ended by the server (a restart, a fence of a zombie's session) must not crash us, idle
      // (the pool's error event) or checked out (the client's; the query in flight fails).
      pool.on("error", () => undefined);
      const open = new Set<pg.PoolClient>();
      this.clients.set(pool, open);
      pool.on("connect", (client) => {
        client.on("error", () => undefined);
        open.add(client);
      });
      pool.on("remove", (client) => open.delete(client));
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
   * error or cannot be reset in time is closed instead, its socket destroyed (a silent peer would never
   * acknowledge a polite goodbye). `reset`: the caller's last query on the session ended with
   * SESSION_RESET_SQL (it ran to the end) and nothing ran after it, so it goes back as it is.
   */
  release(client: pg.PoolClient, broken: boolean, reset = false): void {
    const close = () => {
      client.release(true);
      destroySocket(client);
    };
    if (broken) return close();
    if (reset) return client.release();
    boundedQuery(client, "DISCARD ALL", this.o.queryTimeoutMs).then(() => client.release(), close);
  }

  /** A one-off connection (not pooled): a cancel, CREATE DATABASE, a reconcile. */
  async connectOnce(url: string, applicationName: string, opts: { connectTimeoutMs?: number } = {}): Promise<pg.Client> {
    const client = new pg.Client(this.clientConfig(url, applicationName, opts.connectTimeoutMs ?? this.o.connectTimeoutMs));
    client.on("error", () => undefined);
    try {
      await client.connect();
      await this.o.guard?.check(client, url);
    } catch (e) {
      destroySocket(client);
      throw e;
    }
    return client;
  }

  /** Ends a one-off connection without waiting on the peer. */
  closeOnce(client: pg.Client): void {
    void client.end().catch(() => undefined);
    // end() waits for the server's goodbye on an idle socket; a silent one never sends it.
    setTimeout(() => destroySocket(client), this.o.queryTimeoutMs).unref();
  }

  async close(): Promise<void> {
    this.pools.clear();
    await Promise.all([...this.ending]);
  }
}
