import type pg from "pg";
import { withDatabase } from "../db/url.js";
import type { LedgerRow } from "../domain/pending.js";
import { openSecret, type SecretBox } from "../secrets/secret-box.js";
import { boundedQuery, TargetPools } from "./target-pools.js";
import type { TargetGuard } from "./target-guard.js";

/**
 * Reads targets for planning, never writes them: the databases on an instance and each database's
 * `runway_ledger` (executors/ledger.ts). Every connection goes through the same pools and target guard
 * as the executor's, so a read can reach nothing a run could not.
 */

export interface TargetReaderOptions {
  guard: TargetGuard;
  secrets: SecretBox;
  /** Ledgers read at once (a group may name thousands of databases). */
  concurrency?: number;
  timeoutMs?: number;
}

export type LedgerRead = { rows: LedgerRow[] } | { error: string };

const LIST_SQL = `SELECT datname FROM pg_database
  WHERE NOT datistemplate AND datallowconn AND has_database_privilege(datname, 'CONNECT') ORDER BY 1`;
const LEDGER_SQL = `SELECT schema_version AS "schemaVersion", checksum FROM public.runway_ledger`;
const UNDEFINED_TABLE = "42P01";

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export class TargetReader {
  private readonly pools: TargetPools;
  private readonly timeoutMs: number;
  readonly concurrency: number;

  constructor(private readonly o: TargetReaderOptions) {
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.concurrency = o.concurrency ?? 32;
    this.pools = new TargetPools({
      // Only one-off sessions are opened (connectOnce); the pools' settings bound nothing here.
      size: 1,
      maxPools: 1,
      idleMs: 1000,
      statementTimeoutMs: this.timeoutMs,
      connectTimeoutMs: this.timeoutMs,
      keepAliveIdleMs: 10_000,
      queryTimeoutMs: this.timeoutMs,
      applicationName: "runway planner",
      guard: o.guard,
    });
  }

  /** The databases the instance's role may connect to (templates and the control database left out). */
  async listDatabases(sealedUrl: string): Promise<string[]> {
    const client = await this.pools.connectOnce(openSecret(sealedUrl, this.o.secrets), "runway database list");
    try {
      const { rows } = await boundedQuery<{ datname: string }>(client, LIST_SQL, this.timeoutMs);
      return rows.map((r) => r.datname);
    } finally {
      this.pools.closeOnce(client);
    }
  }

  /**
   * One database's ledger; a database never written by Runway has none (empty). A one-off session: a
   * group may name thousands of databases on one server, and idle sessions kept for each would take its
   * connection slots (the guard's verdict is cached per URL, so a repeat costs only the connect).
   */
  async readLedger(sealedUrl: string, database: string): Promise<LedgerRead> {
    let client: pg.Client | undefined;
    try {
      client = await this.pools.connectOnce(withDatabase(openSecret(sealedUrl, this.o.secrets), database), "runway planner");
      const { rows } = await boundedQuery<LedgerRow>(client, LEDGER_SQL, this.timeoutMs);
      return { rows };
    } catch (e) {
      if ((e as { code?: string }).code === UNDEFINED_TABLE) return { rows: [] };
      return { error: (e as Error).message };
    } finally {
      if (client) this.pools.closeOnce(client);
    }
  }

  /** Many ledgers in parallel, at most `concurrency` at once. */
  readLedgers(targets: readonly { connectionUrl: string; database: string }[]): Promise<LedgerRead[]> {
    return mapBounded(targets, this.concurrency, (t) => this.readLedger(t.connectionUrl, t.database));
  }

  close(): Promise<void> {
    return this.pools.close();
  }
}
