import { createHash } from "node:crypto";
import pg from "pg";
import { TaskType } from "@runway/shared";
import type { ClaimedRun } from "../store/runs.js";
import { runsOutsideTransaction } from "./statement-kind.js";
import type { ExecContext, ExecOutcome, Executor } from "./types.js";
import { TargetPools } from "./target-pools.js";
import type { TargetGuard } from "./target-guard.js";
import { openSecret, type SecretBox } from "../secrets/secret-box.js";

/**
 * Applies a task's statement to its target PostgreSQL database. Transactional statements commit together
 * with a row in the target's `runway_ledger` keyed by (installation, task): a statement already recorded
 * for the task is never applied again, which makes re-running after failover safe.
 *
 * A transactional run costs two round trips to the target on a pooled session: (1) BEGIN, name the
 * session after the run (so a later owner can fence it), bound how long it may sit idle in the
 * transaction, end older epochs' sessions, insert the ledger row, and the statement itself, all in one
 * simple-protocol query; (2) COMMIT, after the lease check.
 */

export function targetUrl(connectionUrl: string, database: string): string {
  const u = new URL(connectionUrl);
  u.pathname = "/" + encodeURIComponent(database);
  return u.toString();
}

const LEDGER_DDL = `CREATE TABLE IF NOT EXISTS public.runway_ledger (
  installation_id uuid NOT NULL,
  task_id bigint NOT NULL,
  attempt integer NOT NULL,
  run_id bigint NOT NULL,
  schema_version text,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (installation_id, task_id)
)`;
/** Serializes first-time ledger creation on a target (concurrent CREATE … IF NOT EXISTS can collide). */
const LEDGER_LOCK = 7_301_003;

interface PgError extends Error {
  code?: string;
  position?: string;
  detail?: string;
  hint?: string;
  constraint?: string;
  where?: string;
}

function errorResult(e: unknown): Record<string, unknown> {
  const err = e as PgError;
  return {
    error: {
      message: err.message,
      ...(err.code ? { code: err.code } : {}),
      ...(err.position ? { position: Number(err.position) } : {}),
      ...(err.detail ? { detail: err.detail } : {}),
      ...(err.hint ? { hint: err.hint } : {}),
      ...(err.where ? { where: err.where } : {}),
    },
  };
}

const CONNECT_ATTEMPTS = 4;

/** An error PostgreSQL raised for a statement (it has an SQLSTATE) rather than a connection failure. */
function isStatementError(e: unknown): boolean {
  const code = (e as PgError).code;
  // Class 08 is connection exceptions; 57P0x is the server shutting down or restarting.
  return typeof code === "string" && !code.startsWith("08") && !code.startsWith("57P");
}

/**
 * The session was lost rather than the statement refused: no SQLSTATE (a socket error, "not queryable"),
 * a connection exception, a shutdown, or the idle-in-transaction bound (25P03) ending a slow owner's
 * session. Nothing committed, so the run may go again.
 */
function isSessionLoss(e: unknown): boolean {
  return !isStatementError(e) || (e as PgError).code === "25P03";
}

/** Claims of one run after which a lost session fails it instead (a statement that crashes its backend). */
const MAX_CLAIMS_ON_SESSION_LOSS = 5;

const rowCounts = (res: pg.QueryResult | pg.QueryResult[]): number[] =>
  (Array.isArray(res) ? res : [res]).map((r) => r.rowCount ?? 0);

const DIGITS = /^\d+$/;
const UUID = /^[0-9a-f-]{36}$/i;

/** Literal SQL for the run's identity; every value comes from our own database, checked all the same. */
function ids(run: ClaimedRun): { installation: string; task: string; run: string; attempt: number; epoch: number } {
  if (!UUID.test(run.installationId) || !DIGITS.test(run.taskId) || !DIGITS.test(run.id)) throw new Error(`malformed run identity ${run.id}`);
  return { installation: `'${run.installationId}'`, task: run.taskId, run: run.id, attempt: Math.trunc(run.attempt), epoch: Math.trunc(run.epoch) };
}

const likeEscape = (s: string) => s.replace(/[%_\\]/g, "\\$&");

export interface PostgresExecutorOptions {
  statementTimeoutMs: number;
  connectTimeoutMs?: number;
  /**
   * How long a run's target transaction may sit idle (PostgreSQL then ends the session). Less than a lease
   * (main.ts: three quarters): the lease check right before COMMIT renews the lease, so an owner frozen
   * after it loses its transaction before the lease can expire — before anyone can take the run over or
   * the sweeper can end it — and can never commit afterwards. A live owner that was merely slow gets RETRY.
   */
  idleInTransactionTimeoutMs?: number;
  /** Pooled sessions per target database; default 10. */
  poolSize?: number;
  /** Target databases that keep idle sessions; default 32. */
  maxPools?: number;
  poolIdleMs?: number;
  /** Refuses target sessions that reach the control plane (always set by main.ts). */
  guard?: TargetGuard;
  /** Opens the claimed run's sealed connection URL (always set by main.ts). */
  secrets?: SecretBox;
}

export class PostgresExecutor implements Executor {
  private readonly pools: TargetPools;

  constructor(private readonly opts: PostgresExecutorOptions) {
    this.pools = new TargetPools({
      size: opts.poolSize ?? 10,
      maxPools: opts.maxPools ?? 32,
      idleMs: opts.poolIdleMs ?? 10_000,
      statementTimeoutMs: opts.statementTimeoutMs,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      applicationName: "runway executor (idle)",
      ...(opts.guard ? { guard: opts.guard } : {}),
    });
  }

  /** Closes every pooled target session. */
  async close(): Promise<void> {
    await this.pools.close();
  }

  /**
   * Connects, retrying a few times: a connection-phase error (a timeout across a pause, a restart of the
   * target) has not run anything, so it must not fail the task at the first try.
   */
  private async acquire(url: string): Promise<pg.PoolClient> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.pools.acquire(url);
      } catch (e) {
        if (attempt >= CONNECT_ATTEMPTS || isStatementError(e)) throw e;
        await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
      }
    }
  }

  private appName(run: ClaimedRun, replicaId: string): string {
    // Visible in the target's pg_stat_activity; max 63 bytes. fencePrefix below matches it.
    return `runway run ${run.id} attempt ${run.attempt} epoch ${run.epoch} ${replicaId}`.slice(0, 63);
  }

  /**
   * SQL ending the sessions of this run's older epochs: a zombie owner (frozen past its lease) may still
   * hold an open transaction for the run on the target, and must never commit after the takeover.
   */
  private fenceSql(run: ClaimedRun, ctx: ExecContext): string {
    if (run.epoch <= 1 || !ctx.fenceTarget) return "";
    const prefix = `runway run ${run.id} attempt ${run.attempt} epoch `;
    return `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE ${pg.escapeLiteral(likeEscape(prefix) + "%")}
      AND application_name NOT LIKE ${pg.escapeLiteral(likeEscape(prefix + run.epoch + " ") + "%")} AND pid <> pg_backend_pid()`;
  }

  /** Aborts the running statement on the target from a second connection when the signal fires. */
  private cancelOnAbort(url: string, pid: number | undefined, signal: AbortSignal): () => void {
    const onAbort = () => {
      if (!pid) return;
      void this.pools
        .connectOnce(url, "runway cancel")
        .then((c) => c.query("SELECT pg_cancel_backend($1)", [pid]).finally(() => c.end().catch(() => undefined)))
        .catch(() => undefined);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    return () => signal.removeEventListener("abort", onAbort);
  }

  async execute(run: ClaimedRun, ctx: ExecContext): Promise<ExecOutcome> {
    const started = performance.now();
    try {
      return run.type === TaskType.DATABASE_CREATE ? await this.createDatabase(run, ctx) : await this.apply(run, ctx, started);
    } catch (e) {
      if (ctx.signal.aborted) {
        return { status: "CANCELED", result: errorResult(e), message: `aborted: ${String(ctx.signal.reason ?? "canceled")}` };
      }
      if (isSessionLoss(e) && run.epoch < MAX_CLAIMS_ON_SESSION_LOSS) {
        return { status: "RETRY", result: errorResult(e), message: `target session lost, run requeued: ${(e as Error).message}` };
      }
      return { status: "FAILED", result: errorResult(e), message: (e as Error).message };
    }
  }

  private async createDatabase(run: ClaimedRun, ctx: ExecContext): Promise<ExecOutcome> {
    const client = await this.pools.connectOnce(openSecret(run.connectionUrl, this.opts.secrets), this.appName(run, ctx.replicaId));
    try {
      const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [run.database]);
      if (exists.rowCount) {
        await ctx.log("EXECUTE", { message: `database "${run.database}" already exists` });
        return { status: "DONE", result: { created: false }, message: `database "${run.database}" already exists` };
      }
      // Always built here from the validated name: a task's free-form text never runs for this type.
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(run.database)}`);
      } catch (e) {
        // Another attempt created it between our check and our statement: same end state.
        if ((e as PgError).code !== "42P04") throw e;
      }
      return { status: "DONE", result: { created: true }, message: `database "${run.database}" created` };
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private async ensureLedger(client: pg.PoolClient): Promise<void> {
    await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${LEDGER_LOCK}); ${LEDGER_DDL}; COMMIT`);
  }

  private async ledgerHit(client: pg.PoolClient, run: ClaimedRun, ctx: ExecContext, concurrent: boolean): Promise<ExecOutcome> {
    const id = ids(run);
    const { rows } = await client.query<{ attempt: number; applied_at: Date }>(
      `SELECT attempt, applied_at FROM public.runway_ledger WHERE installation_id = ${id.installation} AND task_id = ${id.task}`,
    );
    const row = rows[0];
    const message = row
      ? `already applied by attempt ${row.attempt} at ${row.applied_at.toISOString()}; not applied again`
      : "applied concurrently by another attempt; not applied again";
    await ctx.log("LEDGER_HIT", { message, concurrent });
    return { status: "DONE", result: { alreadyApplied: true, rowsAffected: 0 }, message };
  }

  private async apply(run: ClaimedRun, ctx: ExecContext, started: number): Promise<ExecOutcome> {
    const url = targetUrl(openSecret(run.connectionUrl, this.opts.secrets), run.database);
    const client = await this.acquire(url);
    const pid = (client as unknown as { processID?: number }).processID;
    const detach = this.cancelOnAbort(url, pid, ctx.signal);
    let broken = false;
    try {
      const outcome = runsOutsideTransaction(run.type, run.statement)
        ? await this.applyOutside(client, run, ctx)
        : await this.applyInTransaction(client, run, ctx);
      if ("status" in outcome) return outcome;
      const durationMs = Math.round(performance.now() - started);
      const message = `applied: ${outcome.rows} row(s) affected in ${durationMs} ms`;
      return { status: "DONE", result: { rowsAffected: outcome.rows, durationMs }, message };
    } catch (e) {
      // A statement error leaves a usable session (rolled back, reset on release); anything else may not.
      broken = !isStatementError(e);
      throw e;
    } finally {
      detach();
      // A cancel may still be on its way to this session: never hand it to another run.
      this.pools.release(client, broken || ctx.signal.aborted);
    }
  }

  private async applyInTransaction(client: pg.PoolClient, run: ClaimedRun, ctx: ExecContext): Promise<ExecOutcome | { rows: number }> {
    const id = ids(run);
    const checksum = createHash("sha256").update(run.statement).digest("hex");
    const idleMs = Math.max(100, Math.round(this.opts.idleInTransactionTimeoutMs ?? 0));
    const fence = this.fenceSql(run, ctx);
    const parts = [
      "BEGIN",
      `SET LOCAL application_name = ${pg.escapeLiteral(this.appName(run, ctx.replicaId))}`,
      ...(this.opts.idleInTransactionTimeoutMs ? [`SET LOCAL idle_in_transaction_session_timeout = ${idleMs}`] : []),
      ...(fence ? [fence] : []),
      `INSERT INTO public.runway_ledger (installation_id, task_id, attempt, run_id, schema_version, checksum) VALUES (${id.installation}, ${id.task}, ${id.attempt}, ${id.run}, ${run.schemaVersion === null ? "NULL" : pg.escapeLiteral(run.schemaVersion)}, '${checksum}')`,
    ];
    const prefix = parts.join(";\n") + ";\n";
    if (ctx.signal.aborted) throw new Error("canceled before start");
    for (let tries = 0; ; tries++) {
      let counts: number[];
      try {
        counts = rowCounts(await client.query(prefix + run.statement));
      } catch (e) {
        await client.query("ROLLBACK").catch(() => undefined);
        const err = e as PgError & { table?: string };
        const pos = err.position ? Number(err.position) : undefined;
        const inPrefix = pos !== undefined ? pos <= prefix.length : err.table === "runway_ledger";
        if (inPrefix && err.code === "42P01" && tries === 0) {
          await this.ensureLedger(client);
          continue;
        }
        if (inPrefix && err.code === "23505") return this.ledgerHit(client, run, ctx, true);
        if (pos !== undefined && !inPrefix) err.position = String(pos - prefix.length);
        throw err;
      }
      try {
        if (!(await ctx.stillOwner())) throw new Error("lease lost before commit; rolled back");
        await client.query("COMMIT");
      } catch (e) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw e;
      }
      return { rows: counts.slice(parts.length).reduce((a, b) => a + b, 0) };
    }
  }

  /** Statements that cannot run in a transaction block (CREATE INDEX CONCURRENTLY, VACUUM …). */
  private async applyOutside(client: pg.PoolClient, run: ClaimedRun, ctx: ExecContext): Promise<ExecOutcome | { rows: number }> {
    const id = ids(run);
    const checksum = createHash("sha256").update(run.statement).digest("hex");
    const fence = this.fenceSql(run, ctx);
    const lookup =
      `SET application_name = ${pg.escapeLiteral(this.appName(run, ctx.replicaId))};\n` +
      (fence ? fence + ";\n" : "") +
      `SELECT 1 FROM public.runway_ledger WHERE installation_id = ${id.installation} AND task_id = ${id.task}`;
    let applied: number;
    try {
      applied = rowCounts(await client.query(lookup)).at(-1)!;
    } catch (e) {
      if ((e as PgError).code !== "42P01") throw e;
      await this.ensureLedger(client);
      applied = rowCounts(await client.query(lookup)).at(-1)!;
    }
    if (applied > 0) return this.ledgerHit(client, run, ctx, false);
    if (ctx.signal.aborted) throw new Error("canceled before start");
    const rows = rowCounts(await client.query(run.statement)).reduce((a, b) => a + b, 0);
    await client.query(
      `INSERT INTO public.runway_ledger (installation_id, task_id, attempt, run_id, schema_version, checksum) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
      [run.installationId, run.taskId, run.attempt, run.id, run.schemaVersion, checksum],
    );
    return { rows };
  }
}
