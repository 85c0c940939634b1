import { createHash } from "node:crypto";
import { Kysely, PostgresDialect, sql, type RawBuilder } from "kysely";
import pg from "pg";
import type { DB } from "./schema.js";
import { BEGIN_MARK, COMMIT_MARK, COMMIT_TAIL, sendBeginPrepared, sendPreparedCommit } from "./begin-prepared.js";

export type Db = Kysely<DB>;

// bigint ids come back as strings (int8 exceeds JS numbers in principle); counts are cast where used.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

/**
 * Bounds on the control-plane connections (issue 10, bug 4). A connection can die without a reset — a
 * failover, a dropped NAT entry, a black-holed route — and a query sent on it then waits forever, and
 * with it the loop or request that sent it. So:
 * - `statementTimeoutMs` (server side, set on every pooled session): the server cancels a statement that
 *   runs longer, cleanly (57014), and the session stays usable. The longest legitimate control statements
 *   are the pending scheduler's full pass (~4 s at 100k PENDING runs on a quiet machine, docs/benchmarks.md),
 *   so 30 s leaves room for a loaded machine and a larger backlog.
 * - `queryTimeoutMs` (client side): a reply that never comes. A little longer than the statement timeout,
 *   so a server that answers always answers first; when it fires, the server cannot be reached on this
 *   socket, and the socket is destroyed so the pool replaces the connection instead of reusing it.
 * - `connectTimeoutMs`: connecting, and waiting for a free pooled connection (pg-pool bounds both).
 * - TCP keepalives: idle pooled sockets to a vanished peer are noticed and replaced.
 */
export interface ControlBounds {
  statementTimeoutMs: number;
  queryTimeoutMs: number;
  connectTimeoutMs: number;
  keepAliveInitialDelayMs: number;
}

export const CONTROL_BOUNDS: ControlBounds = {
  statementTimeoutMs: 30_000,
  queryTimeoutMs: 35_000,
  connectTimeoutMs: 10_000,
  keepAliveInitialDelayMs: 10_000,
};

/** pg's own message for a query_timeout (pg/lib/client.js). */
const QUERY_TIMEOUT_MESSAGE = "Query read timeout";

/** Ends a client's socket at once: its queries fail, and the pool drops it when it is released. */
export function destroyConnection(client: pg.ClientBase): void {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/**
 * A client whose timed-out query also ends the connection. pg's query_timeout only fails the query: the
 * socket stays, the client still waits for the reply, and every later query on it (Kysely releases it to
 * the pool as healthy) would queue behind that reply and time out in turn.
 */
class ControlClient extends pg.Client {
  /** The statements this session PREPAREd by SQL (begin-prepared.ts); a new connection is a new client. */
  private readonly sqlPrepared = new Set<string>();

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- pg.Client.query has a dozen overloads
  override query(...args: any[]): any {
    if (typeof args[0] === "string" && args[0].startsWith(BEGIN_MARK)) {
      if (args.length !== 2) throw new Error("beginPrepared statements are sent as (text, values), without a callback");
      // Named by the marked text as sent (the memoized string, whose hash is cached), as prepared() names.
      const name = statementName("rwb_", args[0]);
      return sendBeginPrepared((t) => this.query(t), this.sqlPrepared, name, args[0].slice(BEGIN_MARK.length), args[1]);
    }
    if (typeof args[0] === "string" && args[0].startsWith(COMMIT_MARK) && args[0].endsWith(COMMIT_TAIL)) {
      if (args.length !== 2) throw new Error("preparedCommit statements are sent as (text, values), without a callback");
      const name = statementName("rwc_", args[0]);
      const text = args[0].slice(COMMIT_MARK.length, args[0].length - COMMIT_TAIL.length);
      return sendPreparedCommit((t) => this.query(t), this.sqlPrepared, name, text, args[1]);
    }
    if (typeof args[0] === "string" && args[0].startsWith(PREPARED_MARK)) args = [asPrepared(args[0], args[1]), ...args.slice(2)];
    const last = args.length - 1;
    if (typeof args[last] === "function") {
      const cb = args[last] as (err: Error | null, res: unknown) => void;
      args[last] = (err: Error | null, res: unknown) => {
        if (err?.message === QUERY_TIMEOUT_MESSAGE) destroyConnection(this);
        cb(err, res);
      };
      return (super.query as (...a: unknown[]) => unknown)(...args);
    }
    const res = (super.query as (...a: unknown[]) => unknown)(...args);
    if (res instanceof Promise) {
      res.catch((err: Error) => {
        if (err?.message === QUERY_TIMEOUT_MESSAGE) destroyConnection(this);
      });
    }
    return res;
  }
}

/** The first bytes of a statement that `prepared()` marked. */
const PREPARED_MARK = "/* prepared */";
/** Per prefix, the names given so far, by text (memoized texts: a lookup reuses the string's cached hash). */
const preparedNames = { rw_: new Map<string, string>(), rwb_: new Map<string, string>(), rwc_: new Map<string, string>() };

/**
 * A prepared statement's name, from its text (hashed once per text in this process): `rw_` for the protocol's
 * named statements (`prepared()`), `rwb_` and `rwc_` for those PREPAREd by SQL (`beginPrepared()`,
 * `preparedCommit()`).
 */
function statementName(prefix: keyof typeof preparedNames, text: string): string {
  const names = preparedNames[prefix];
  let name = names.get(text);
  if (name === undefined) {
    name = prefix + createHash("sha1").update(text).digest("hex").slice(0, 20);
    names.set(text, name);
  }
  return name;
}

/** A marked statement as a named one: parsed and planned once per connection, then only bound and run. */
function asPrepared(text: string, values: unknown): pg.QueryConfig {
  return { name: statementName("rw_", text), text, values: Array.isArray(values) ? values : [] };
}

/**
 * Marks a statement to be sent as a named prepared statement on the control pool. For the running
 * scheduler's hot statements (claim, finish, lease renewal), whose text is large (one statement does a
 * transition and all its effects) and the same every time (values go in as parameters and arrays):
 * parsing and planning them cost as much as running them. Only for statements whose text takes a
 * bounded number of forms, since each form is kept on each connection (and in this process) for good.
 */
export function prepared<T>(statement: RawBuilder<T>): RawBuilder<T> {
  return sql<T>`${sql.raw(PREPARED_MARK)}\n${statement}`;
}

export function createPool(
  url: string,
  max = 10,
  applicationName = "runway",
  bounds: ControlBounds = CONTROL_BOUNDS,
  /** Keep idle sessions open (pg-pool closes them after 10 s): for a session whose prepared statements matter. */
  keepIdle = false,
): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    ...(keepIdle ? { idleTimeoutMillis: 0 } : {}),
    application_name: applicationName,
    Client: ControlClient,
    connectionTimeoutMillis: bounds.connectTimeoutMs,
    query_timeout: bounds.queryTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: bounds.keepAliveInitialDelayMs,
    // Set with SET rather than as a startup parameter, which poolers such as PgBouncer refuse; the pool
    // waits for it before handing the new client out.
    onConnect: async (client) => {
      await client.query(`SET statement_timeout = ${Math.trunc(bounds.statementTimeoutMs)}`);
    },
  });
  // A client losing its connection must not crash the process: idle ones are replaced by the pool, and a
  // checked-out one (e.g. ended by idle_in_transaction_session_timeout after this process was paused)
  // fails its pending query, which the caller sees.
  pool.on("error", () => undefined);
  pool.on("connect", (client) => client.on("error", () => undefined));
  return pool;
}

/**
 * Runs `fn` on a pooled client within `ms`, waiting for the client included. When the time is up the
 * client's connection is destroyed (the pool replaces it) and the call fails: for probes that must
 * answer quickly whatever state the connections are in (`/readyz`).
 */
export async function withClientWithin<T>(pool: pg.Pool, ms: number, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`control database did not answer within ${ms} ms`)), ms);
  });
  const acquiring = pool.connect();
  try {
    let client: pg.PoolClient;
    try {
      client = await Promise.race([acquiring, expired]);
    } catch (e) {
      acquiring.then(
        (c) => c.release(),
        () => undefined,
      );
      throw e;
    }
    const work = fn(client);
    try {
      const result = await Promise.race([work, expired]);
      client.release();
      return result;
    } catch (e) {
      work.catch(() => undefined);
      destroyConnection(client);
      client.release(e as Error);
      throw e;
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The pending passes' own session (SchedulerRuntime's `passDb`): one connection, kept while idle, with the
 * control pool's bounds. A pass's statements are then prepared and planned once per replica.
 */
export function createPassDb(url: string, applicationName: string, bounds: ControlBounds = CONTROL_BOUNDS): Db {
  return createDb(createPool(url, 1, applicationName, bounds, true));
}

export function createDb(pool: pg.Pool): Db {
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}

/** Notification channels. Payloads are small JSON; NOTIFY is delivered only after commit. */
export const Channel = {
  /** Something a PENDING run's gates depend on changed: pending schedulers should run a pass. */
  PENDING: "runway_pending",
  /** Runs became AVAILABLE: running schedulers should claim. */
  AVAILABLE: "runway_available",
  /** A RUNNING run's cancel was requested; payload {runId}. */
  CANCEL: "runway_cancel",
  /** Tasks or runs changed; payload {rolloutId}; feeds the SSE endpoint. */
  CHANGE: "runway_change",
  /** Webhook deliveries became due: delivery loops should claim. */
  WEBHOOK: "runway_webhook",
  /** A user's sessions, tokens, role or disabled flag changed; payload {username}. Open SSE streams re-check. */
  AUTH: "runway_auth",
  /** An instance was added or its connection changed; payload its id. Listing loops list it now. */
  INSTANCES: "runway_instances",
} as const;
