import { createHash } from "node:crypto";
import pg from "pg";
import { TaskType } from "@runway/shared";
import { withDatabase } from "../db/url.js";
import type { ClaimedRun } from "../store/runs.js";
import { runsOutsideTransaction } from "../domain/statements.js";
import { PostgresReconciler, reconcileRun } from "./reconcile.js";
import { runSessionName, targetFenceSql } from "./session-name.js";
import { classify, errorResult, TargetFault } from "./target-errors.js";
import { boundedQuery, destroySocket, TargetPools } from "./target-pools.js";
import type { ExecContext, ExecOutcome, Executor, Reconciled, RunRef, TargetReconciler } from "./types.js";

/**
 * Applies a task's statement to its target PostgreSQL database. Transactional statements commit together
 * with a row in the target's `runway_ledger` keyed by (installation, task): a statement already recorded
 * for the task is never applied again, which makes re-running after failover safe.
 *
 * A transactional run costs two round trips to the target on a pooled session: (1) BEGIN, name the
 * session after the run (so a later owner can fence it), bound how long it may sit idle in the
 * transaction, end older epochs' sessions, insert the ledger row, and the statement itself, all in one
 * simple-protocol query; (2) COMMIT, after the lease check.
 *
 * Only an error the server raised for the statement fails a run. Anything below the SQL layer before
 * COMMIT (refused, reset or silent connections, a restart) is RETRY: nothing of the run committed.
 */

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

/**
 * How far an execution got, which decides what a lost session may have left behind: before "sent" the
 * statement never reached the target; at "commit" it may have committed. `abandoned`: we closed our end
 * of the session without the server confirming the statement ended (a cancel not delivered in time).
 */
interface Progress {
  phase: "connect" | "prepare" | "sent" | "commit";
  abandoned: boolean;
}

const rowCounts = (res: pg.QueryResult | pg.QueryResult[]): number[] =>
  (Array.isArray(res) ? res : [res]).map((r) => r.rowCount ?? 0);

const DIGITS = /^\d+$/;
const UUID = /^[0-9a-f-]{36}$/i;

/** Literal SQL for the run's identity; every value comes from our own database, checked all the same. */
function ids(run: ClaimedRun): { installation: string; task: string; run: string; attempt: number } {
  if (!UUID.test(run.installationId) || !DIGITS.test(run.taskId) || !DIGITS.test(run.id)) throw new Error(`malformed run identity ${run.id}`);
  return { installation: `'${run.installationId}'`, task: run.taskId, run: run.id, attempt: Math.trunc(run.attempt) };
}

export interface PostgresExecutorOptions {
  statementTimeoutMs: number;
  /** Bound on opening a target connection; default 10 s. */
  connectTimeoutMs?: number;
  /**
   * Client-side bound on the queries Runway issues itself (ledger, fence, DISCARD ALL, ROLLBACK), and the
   * margin added to statement_timeout for the statement's own query; default 10 s.
   */
  queryTimeoutMs?: number;
  /** After an abort, how long the statement may take to end before our end of its session is closed; default 5 s. */
  cancelTimeoutMs?: number;
  /** Silence before TCP keepalive probes start (then 10 probes 1 s apart); default 10 s. */
  keepAliveIdleMs?: number;
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
}

export class PostgresExecutor implements Executor, TargetReconciler {
  private readonly pools: TargetPools;
  private readonly reconciler: PostgresReconciler;
  private readonly queryTimeoutMs: number;
  private readonly cancelTimeoutMs: number;

  constructor(private readonly opts: PostgresExecutorOptions) {
    this.queryTimeoutMs = opts.queryTimeoutMs ?? 10_000;
    this.cancelTimeoutMs = opts.cancelTimeoutMs ?? 5_000;
    this.pools = new TargetPools({
      size: opts.poolSize ?? 10,
      maxPools: opts.maxPools ?? 32,
      idleMs: opts.poolIdleMs ?? 10_000,
      statementTimeoutMs: opts.statementTimeoutMs,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      keepAliveIdleMs: opts.keepAliveIdleMs ?? 10_000,
      queryTimeoutMs: this.queryTimeoutMs,
      applicationName: "runway executor (idle)",
    });
    this.reconciler = new PostgresReconciler(this.pools);
  }

  /** Closes every pooled target session. */
  async close(): Promise<void> {
    await this.pools.close();
  }

  /** See TargetReconciler: uses this executor's connections (and their bounds). */
  reconcile(run: RunRef, opts: { timeoutMs: number }): Promise<Reconciled> {
    return this.reconciler.reconcile(run, opts);
  }

  /**
   * Client-side bound on a query carrying statements each bounded by statement_timeout (0: none, then TCP
   * keepalives are what notices a silent target). PostgreSQL 13+ applies statement_timeout to each
   * statement of a multi-statement query, and a query holds at most one statement more than semicolons.
   */
  private statementBound(sql: string): number {
    const t = this.opts.statementTimeoutMs;
    return t > 0 ? t * (1 + (sql.match(/;/g)?.length ?? 0)) + this.queryTimeoutMs : 0;
  }

  /** COMMIT may run deferred triggers; without a statement timeout it gets six times the query bound. */
  private commitBound(): number {
    const t = this.opts.statementTimeoutMs;
    return t > 0 ? t + this.queryTimeoutMs : 6 * this.queryTimeoutMs;
  }

  protected fenceSql(run: ClaimedRun, _ctx: ExecContext): string {
    if (run.epoch <= 1) return "";
    return targetFenceSql({ installationId: run.installationId, runId: run.id, epoch: run.epoch });
  }

  /** Connects, giving up at once on an abort (a connection that opens later is closed). */
  private async connect<C extends pg.ClientBase>(open: () => Promise<C>, dispose: (c: C) => void, signal: AbortSignal): Promise<C> {
    if (signal.aborted) throw new TargetFault("CANCELED_BEFORE_START", "canceled before start");
    const opening = open();
    let onAbort = () => undefined as void;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new TargetFault("CANCELED_BEFORE_START", "canceled while connecting"));
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([opening, aborted]);
    } catch (e) {
      if (signal.aborted) opening.then(dispose, () => undefined);
      throw e;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  /**
   * On abort, cancels the running statement from a second connection (bounded by its own connect
   * timeout). If the statement has not ended within cancelTimeoutMs — the target is silent, or the cancel
   * did not take — our end of the session is closed so the execution can end; the session may live on
   * at the target, and the outcome (RETRY) says so.
   */
  private cancelOnAbort(url: string, client: pg.ClientBase, signal: AbortSignal, p: Progress): () => void {
    const pid = (client as unknown as { processID?: number }).processID;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      timer = setTimeout(() => {
        p.abandoned = true;
        destroySocket(client);
      }, this.cancelTimeoutMs);
      if (!pid) return;
      void this.pools
        .connectOnce(url, "runway cancel", { connectTimeoutMs: this.cancelTimeoutMs })
        .then((c) => boundedQuery(c, "SELECT pg_cancel_backend($1)", this.cancelTimeoutMs, [pid]).finally(() => this.pools.closeOnce(c)))
        .catch(() => undefined);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    return () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    };
  }

  async execute(run: ClaimedRun, ctx: ExecContext): Promise<ExecOutcome> {
    const started = performance.now();
    const p: Progress = { phase: "connect", abandoned: false };
    try {
      ids(run);
      runSessionName({ installationId: run.installationId, runId: run.id, epoch: run.epoch }, ctx.replicaId);
    } catch (e) {
      return { status: "FAILED", result: errorResult(e), message: (e as Error).message, notStarted: true };
    }
    try {
      return run.type === TaskType.DATABASE_CREATE ? await this.createDatabase(run, ctx, p) : await this.apply(run, ctx, p, started);
    } catch (e) {
      return this.failure(e, ctx, p);
    }
  }

  private failure(e: unknown, ctx: ExecContext, p: Progress): ExecOutcome {
    const notStarted = p.phase === "connect" || p.phase === "prepare";
    const flag = notStarted ? { notStarted: true } : {};
    const reason = `aborted: ${String(ctx.signal.reason ?? "canceled")}`;
    if (p.abandoned) {
      const err = new TargetFault("CANCEL_UNDELIVERED", `the statement did not end within ${this.cancelTimeoutMs} ms of the abort; our end of its session was closed (${(e as Error).message})`);
      return { status: "RETRY", result: errorResult(err), message: `target session lost before commit: ${err.message}`, ...flag };
    }
    const code = e instanceof TargetFault ? e.code : undefined;
    // Ended cleanly by the server, or by us before sending anything: nothing of the run is left there.
    const clean = code === "LEASE_LOST" || code === "CANCELED_BEFORE_START" || classify(e, p.phase === "connect") === "statement";
    if (ctx.signal.aborted && (clean || notStarted)) return { status: "CANCELED", result: errorResult(e), message: reason, ...flag };
    if (clean && !code) return { status: "FAILED", result: errorResult(e), message: (e as Error).message, ...flag };
    const why = code === "LEASE_LOST" ? "lease lost" : notStarted ? "target unreachable" : "target session lost before commit";
    return { status: "RETRY", result: errorResult(e), message: `${why}: ${(e as Error).message}`, ...flag };
  }

  private async createDatabase(run: ClaimedRun, ctx: ExecContext, p: Progress): Promise<ExecOutcome> {
    const name = runSessionName({ installationId: run.installationId, runId: run.id, epoch: run.epoch }, ctx.replicaId);
    const client = await this.connect(() => this.pools.connectOnce(run.connectionUrl, name), (c) => this.pools.closeOnce(c), ctx.signal);
    p.phase = "prepare";
    const detach = this.cancelOnAbort(run.connectionUrl, client, ctx.signal, p);
    try {
      const exists = await boundedQuery(client, "SELECT 1 FROM pg_database WHERE datname = $1", this.queryTimeoutMs, [run.database]);
      if (exists.rowCount) {
        await ctx.log("EXECUTE", { message: `database "${run.database}" already exists` });
        return { status: "DONE", result: { created: false }, message: `database "${run.database}" already exists`, notStarted: true };
      }
      const stmt = run.statement.trim() || `CREATE DATABASE ${client.escapeIdentifier(run.database)}`;
      if (ctx.signal.aborted) throw new TargetFault("CANCELED_BEFORE_START", "canceled before start");
      p.phase = "sent";
      try {
        await boundedQuery(client, stmt, this.statementBound(stmt));
      } catch (e) {
        // Another attempt created it between our check and our statement: same end state.
        if ((e as { code?: string }).code !== "42P04") throw e;
      }
      return { status: "DONE", result: { created: true }, message: `database "${run.database}" created` };
    } finally {
      detach();
      this.pools.closeOnce(client);
    }
  }

  private async ensureLedger(client: pg.PoolClient): Promise<void> {
    await boundedQuery(client, `BEGIN; SELECT pg_advisory_xact_lock(${LEDGER_LOCK}); ${LEDGER_DDL}; COMMIT`, this.queryTimeoutMs);
  }

  private async ledgerHit(client: pg.PoolClient, run: ClaimedRun, ctx: ExecContext, concurrent: boolean): Promise<ExecOutcome> {
    const id = ids(run);
    const { rows } = await boundedQuery<{ attempt: number; applied_at: Date }>(
      client,
      `SELECT attempt, applied_at FROM public.runway_ledger WHERE installation_id = ${id.installation} AND task_id = ${id.task}`,
      this.queryTimeoutMs,
    );
    const row = rows[0];
    const message = row
      ? `already applied by attempt ${row.attempt} at ${row.applied_at.toISOString()}; not applied again`
      : "applied concurrently by another attempt; not applied again";
    await ctx.log("LEDGER_HIT", { message, concurrent });
    return { status: "DONE", result: { alreadyApplied: true, rowsAffected: 0 }, message };
  }

  private async apply(run: ClaimedRun, ctx: ExecContext, p: Progress, started: number): Promise<ExecOutcome> {
    const url = withDatabase(run.connectionUrl, run.database);
    const client = await this.connect(() => this.pools.acquire(url), (c) => this.pools.release(c, true), ctx.signal);
    p.phase = "prepare";
    const detach = this.cancelOnAbort(url, client, ctx.signal, p);
    let broken = false;
    try {
      const outcome = runsOutsideTransaction(run)
        ? await this.applyOutside(client, run, ctx, p)
        : await this.applyInTransaction(client, run, ctx, p);
      if ("status" in outcome) return outcome;
      const durationMs = Math.round(performance.now() - started);
      broken = outcome.note !== undefined;
      const message = `applied: ${outcome.rows} row(s) affected in ${durationMs} ms${outcome.note ? `; ${outcome.note}` : ""}`;
      return { status: "DONE", result: { rowsAffected: outcome.rows, durationMs, ...(outcome.note ? { note: outcome.note } : {}) }, message };
    } catch (e) {
      // A statement error leaves a usable session (rolled back, reset on release); anything else may not.
      broken = classify(e, false) !== "statement";
      throw e;
    } finally {
      detach();
      // A cancel may still be on its way to this session: never hand it to another run.
      this.pools.release(client, broken || p.abandoned || ctx.signal.aborted);
    }
  }

  private async applyInTransaction(client: pg.PoolClient, run: ClaimedRun, ctx: ExecContext, p: Progress): Promise<ExecOutcome | { rows: number; note?: string }> {
    const id = ids(run);
    const checksum = createHash("sha256").update(run.statement).digest("hex");
    const idleMs = Math.max(100, Math.round(this.opts.idleInTransactionTimeoutMs ?? 0));
    const fence = this.fenceSql(run, ctx);
    const name = runSessionName({ installationId: run.installationId, runId: run.id, epoch: run.epoch }, ctx.replicaId);
    const parts = [
      "BEGIN",
      `SET LOCAL application_name = ${pg.escapeLiteral(name)}`,
      ...(this.opts.idleInTransactionTimeoutMs ? [`SET LOCAL idle_in_transaction_session_timeout = ${idleMs}`] : []),
      ...(fence ? [fence] : []),
      `INSERT INTO public.runway_ledger (installation_id, task_id, attempt, run_id, schema_version, checksum) VALUES (${id.installation}, ${id.task}, ${id.attempt}, ${id.run}, ${run.schemaVersion === null ? "NULL" : pg.escapeLiteral(run.schemaVersion)}, '${checksum}')`,
    ];
    const prefix = parts.join(";\n") + ";\n";
    const rollback = () => boundedQuery(client, "ROLLBACK", this.queryTimeoutMs).catch(() => undefined);
    if (ctx.signal.aborted) throw new TargetFault("CANCELED_BEFORE_START", "canceled before start");
    for (let tries = 0; ; tries++) {
      let counts: number[];
      p.phase = "sent";
      try {
        counts = rowCounts(await boundedQuery(client, prefix + run.statement, this.statementBound(prefix + run.statement)));
      } catch (e) {
        if (classify(e, false) === "session") throw e; // no ROLLBACK on a lost session: it would wait behind the lost query
        await rollback();
        const err = e as pg.DatabaseError;
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
      if (!(await ctx.stillOwner())) {
        await rollback();
        throw new TargetFault("LEASE_LOST", "lease lost before commit; rolled back");
      }
      const rows = counts.slice(parts.length).reduce((a, b) => a + b, 0);
      p.phase = "commit";
      try {
        await boundedQuery(client, "COMMIT", this.commitBound());
      } catch (e) {
        if (classify(e, false) === "statement") throw e; // the server refused the commit and rolled back
        return this.commitLost(client, run, e, rows);
      }
      return { rows };
    }
  }

  /**
   * The connection was lost during COMMIT: it may or may not have committed. Our session is ended at
   * the target, then the ledger tells (bounded). Not confirmed applied: RETRY, and a re-run's ledger check
   * decides for good.
   */
  private async commitLost(client: pg.PoolClient, run: ClaimedRun, e: unknown, rows: number): Promise<{ rows: number; note: string }> {
    destroySocket(client);
    const seen = await reconcileRun(this.pools, run, { timeoutMs: this.queryTimeoutMs, epochs: "up to" });
    if (seen.state !== "applied") throw e;
    return { rows, note: `the connection was lost during COMMIT; the target's ledger confirms it committed (${(e as Error).message})` };
  }

  /** Statements that cannot run in a transaction block (CREATE INDEX CONCURRENTLY, VACUUM …). */
  private async applyOutside(client: pg.PoolClient, run: ClaimedRun, ctx: ExecContext, p: Progress): Promise<ExecOutcome | { rows: number; note?: string }> {
    const id = ids(run);
    const checksum = createHash("sha256").update(run.statement).digest("hex");
    const fence = this.fenceSql(run, ctx);
    const name = runSessionName({ installationId: run.installationId, runId: run.id, epoch: run.epoch }, ctx.replicaId);
    const lookup =
      `SET application_name = ${pg.escapeLiteral(name)};\n` +
      (fence ? fence + ";\n" : "") +
      `SELECT 1 FROM public.runway_ledger WHERE installation_id = ${id.installation} AND task_id = ${id.task}`;
    let applied: number;
    try {
      applied = rowCounts(await boundedQuery(client, lookup, this.queryTimeoutMs)).at(-1)!;
    } catch (e) {
      if ((e as { code?: string }).code !== "42P01") throw e;
      await this.ensureLedger(client);
      applied = rowCounts(await boundedQuery(client, lookup, this.queryTimeoutMs)).at(-1)!;
    }
    if (applied > 0) return this.ledgerHit(client, run, ctx, false);
    if (ctx.signal.aborted) throw new TargetFault("CANCELED_BEFORE_START", "canceled before start");
    // No transaction will hold this statement back at the end: a zombie owner must not even start it.
    if (!(await ctx.stillOwner())) throw new TargetFault("LEASE_LOST", "lease lost before the statement was sent; nothing ran");
    p.phase = "sent";
    const rows = rowCounts(await boundedQuery(client, run.statement, this.statementBound(run.statement))).reduce((a, b) => a + b, 0);
    try {
      await boundedQuery(
        client,
        `INSERT INTO public.runway_ledger (installation_id, task_id, attempt, run_id, schema_version, checksum) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
        this.queryTimeoutMs,
        [run.installationId, run.taskId, run.attempt, run.id, run.schemaVersion, checksum],
      );
    } catch (e) {
      // The statement is applied whatever becomes of its record: DONE, saying the ledger lacks it.
      return { rows, note: `the ledger row could not be written (${(e as Error).message})` };
    }
    return { rows };
  }
}
