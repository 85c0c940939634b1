import pg from "pg";
import { TaskType } from "@runway/shared";
import { withDatabase } from "../db/url.js";
import type { ClaimedRun } from "../store/runs.js";
import { cancelOnAbort, connectUnlessAborted, failureOutcome, type Progress } from "./abort.js";
import {
  LEDGER_APPLY_ONCE_HIT,
  applyOnceOutcome,
  ledgerApplyOnceHit,
  ledgerApplyOnceSql,
  ledgerEnsure,
  ledgerHitMessage,
  ledgerIds,
  ledgerInsertSql,
  ledgerLookupSql,
} from "./ledger.js";
import { recordApplied } from "./ledger-record.js";
import { PostgresReconciler, sayWhatTheBuildLeft } from "./reconcile.js";
import { commitLost, commitRefused } from "./commit-outcome.js";
import { createDatabase, type TargetBounds } from "./create-database.js";
import { runSessionName, targetFenceSql } from "./session-name.js";
import { runsOutsideTransaction } from "../domain/statements.js";
import { classify, errorResult, TargetFault } from "./target-errors.js";
import { boundedQuery, rowCounts, SESSION_RESET_SQL, TargetPools } from "./target-pools.js";
import type { PostgresExecutorOptions } from "./postgres-options.js";
import { note, type ExecContext, type ExecOutcome, type Executor, type Reconciled, type RunRef, type TargetReconciler } from "./types.js";
import { openSecret } from "../secrets/secret-box.js";
import { readSessionView, type SessionView, type SessionViewer } from "./session-view.js";
import { dryRunOn, type DryRunJob, type DryRunner, type DryRunResult, type DryRunSettings } from "./dry-run.js";

export type { PostgresExecutorOptions } from "./postgres-options.js";

/** A statement applied: its row count, and `note` when its ledger row is missing; `broken`: the session is not reusable. */
type Applied = { rows: number; note?: string; broken?: boolean };

/**
 * Applies a task's statement to its target PostgreSQL database. Transactional statements commit together
 * with a row in the target's `runway_ledger` keyed by (installation, task): a statement already recorded
 * for the task is never applied again, which makes re-running after failover safe.
 *
 * A transactional run costs two round trips to the target on a pooled session: (1) BEGIN, name the
 * session after the run (so a later owner can fence it), bound how long it may sit idle in the
 * transaction, end older epochs' sessions, insert the ledger row, and the statement itself, all in one
 * simple-protocol query; (2) COMMIT, after the lease check, and in the same query the reset of the session
 * for its next run (SESSION_RESET_SQL: DISCARD ALL spelled out), so giving it back to its pool costs none.
 * The lease check goes to the control database with (1), where the context offers it (ownerCheckAhead),
 * and its answer stands for the check before COMMIT if (1) returned soon enough; else it is made again.
 *
 * Only an error the server raised for the statement fails a run. Anything below the SQL layer before
 * COMMIT (refused, reset or silent connections, a restart) is RETRY: nothing of the run committed.
 */

export class PostgresExecutor implements Executor, TargetReconciler, SessionViewer, DryRunner {
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
      ...(opts.guard ? { guard: opts.guard } : {}),
    });
    this.reconciler = new PostgresReconciler(this.pools);
  }

  /** Closes every pooled target session. */
  async close(): Promise<void> {
    await this.pools.close();
  }

  /** See DryRunner: on this executor's pooled sessions, through its target guard, with the instance's credentials. */
  dryRun(job: DryRunJob, settings: DryRunSettings): Promise<DryRunResult> {
    let connectionUrl: string;
    try {
      connectionUrl = openSecret(job.connectionUrl, this.opts.secrets);
    } catch (e) {
      const message = (e as Error).message;
      return Promise.resolve({ outcome: "FAILED", result: { error: { message }, durationMs: 0, message } });
    }
    return dryRunOn(this.pools, { ...job, connectionUrl }, { queryTimeoutMs: this.queryTimeoutMs, ...settings });
  }

  /** See TargetReconciler: uses this executor's connections (and their bounds). */
  reconcile(run: RunRef, opts: { timeoutMs: number }): Promise<Reconciled> {
    let connectionUrl: string;
    try {
      connectionUrl = openSecret(run.connectionUrl, this.opts.secrets);
    } catch (e) {
      return Promise.resolve({ state: "unreachable", error: (e as Error).message });
    }
    return this.reconciler.reconcile({ ...run, connectionUrl }, opts);
  }

  /** What the run's session on the target does and who blocks it (executors/session-view.ts), on this executor's pools. */
  sessionView(run: RunRef, opts: { timeoutMs: number }): Promise<SessionView> {
    return readSessionView(this.pools, { ...run, connectionUrl: openSecret(run.connectionUrl, this.opts.secrets) }, opts);
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

  private bounds(): TargetBounds {
    return {
      queryTimeoutMs: this.queryTimeoutMs,
      cancelTimeoutMs: this.cancelTimeoutMs,
      statementBound: (sql) => this.statementBound(sql),
    };
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

  /** Why this replica may not go on (a control-plane failure is not the statement's fault either), or "". */
  private async ownershipLost(stillOwner: () => Promise<boolean>): Promise<string> {
    try {
      return (await stillOwner()) ? "" : "lease lost";
    } catch (e) {
      return `ownership could not be confirmed (${(e as Error).message})`;
    }
  }

  async execute(run: ClaimedRun, ctx: ExecContext): Promise<ExecOutcome> {
    const started = performance.now();
    const p: Progress = { phase: "connect", abandoned: false };
    try {
      ledgerIds(run);
      runSessionName({ installationId: run.installationId, runId: run.id, epoch: run.epoch }, ctx.replicaId);
    } catch (e) {
      return { status: "FAILED", result: errorResult(e), message: (e as Error).message, notStarted: true };
    }
    try {
      // The stored URL is sealed (secrets/secret-box.ts): opened here, once, for this execution only.
      const opened = { ...run, connectionUrl: openSecret(run.connectionUrl, this.opts.secrets) };
      return run.type === TaskType.DATABASE_CREATE
        ? await createDatabase(this.pools, opened, ctx, p, this.bounds())
        : await this.apply(opened, ctx, p, started);
    } catch (e) {
      return failureOutcome(e, ctx.signal, p, this.cancelTimeoutMs);
    }
  }

  private async ledgerHit(client: pg.PoolClient, run: ClaimedRun, ctx: ExecContext, concurrent: boolean): Promise<ExecOutcome> {
    // The ledger row is there (the INSERT met it, or the lookup read it): DONE, whatever becomes of the query
    // that only words the message (a cancel found by the lease check sent with the statement aborts it, say).
    const message = await ledgerHitMessage(client, run, this.queryTimeoutMs).catch(
      () => "applied by another attempt (its ledger row is there); not applied again",
    );
    await note(ctx, "LEDGER_HIT", { message, concurrent });
    return { status: "DONE", result: { alreadyApplied: true, rowsAffected: 0 }, message };
  }

  /** A release's change the target's ledger already records under another task (executors/ledger.ts); null: none. */
  private async applyOnceHit(client: pg.PoolClient, run: ClaimedRun, ctx: ExecContext): Promise<ExecOutcome | null> {
    const hit = await ledgerApplyOnceHit(client, run, this.queryTimeoutMs);
    if (!hit) return null;
    const outcome = applyOnceOutcome(run, hit);
    if (outcome.status === "DONE") await note(ctx, "LEDGER_HIT", { message: outcome.message, byTask: hit.taskId });
    return outcome;
  }

  private async apply(run: ClaimedRun, ctx: ExecContext, p: Progress, started: number): Promise<ExecOutcome> {
    const url = withDatabase(run.connectionUrl, run.database);
    const client = await connectUnlessAborted(
      () => this.pools.acquire(url),
      (c) => this.pools.release(c, true),
      ctx.signal,
    );
    p.phase = "prepare";
    const detach = cancelOnAbort(this.pools, url, client, ctx.signal, p, this.cancelTimeoutMs);
    let broken = false;
    try {
      const outcome = runsOutsideTransaction(run)
        ? await this.applyOutside(client, url, run, ctx, p)
        : await this.applyInTransaction(client, run, ctx, p);
      if ("status" in outcome) return outcome;
      const durationMs = Math.round(performance.now() - started);
      broken = outcome.broken === true || outcome.note !== undefined;
      const message = `applied: ${outcome.rows} row(s) affected in ${durationMs} ms${outcome.note ? `; ${outcome.note}` : ""}`;
      return {
        status: "DONE",
        result: { rowsAffected: outcome.rows, durationMs, ...(outcome.note ? { note: outcome.note } : {}) },
        message,
      };
    } catch (e) {
      // A statement error leaves a usable session (rolled back, reset on release); anything else may not.
      broken = classify(e, false) !== "statement";
      throw e;
    } finally {
      detach();
      // A cancel may still be on its way to this session: never hand it to another run.
      this.pools.release(client, broken || p.abandoned || ctx.signal.aborted, p.reset === true);
    }
  }

  private async applyInTransaction(client: pg.PoolClient, run: ClaimedRun, ctx: ExecContext, p: Progress): Promise<ExecOutcome | Applied> {
    const idleMs = Math.max(100, Math.round(this.opts.idleInTransactionTimeoutMs ?? 0));
    const fence = this.fenceSql(run, ctx);
    const name = runSessionName({ installationId: run.installationId, runId: run.id, epoch: run.epoch }, ctx.replicaId);
    const parts = [
      "BEGIN",
      `SET LOCAL application_name = ${pg.escapeLiteral(name)}`,
      ...(this.opts.idleInTransactionTimeoutMs ? [`SET LOCAL idle_in_transaction_session_timeout = ${idleMs}`] : []),
      // The project's bound on waiting for a lock: past it the run fails with 55P03 and is retried later.
      ...(run.retryPolicy?.lockTimeoutMs ? [`SET LOCAL lock_timeout = ${Math.round(run.retryPolicy.lockTimeoutMs)}`] : []),
      ...(fence ? [fence] : []),
      ...ledgerApplyOnceSql(run),
      ledgerInsertSql(run),
    ];
    const prefix = parts.join(";\n") + ";\n";
    const rollback = () => boundedQuery(client, "ROLLBACK", this.queryTimeoutMs).catch(() => undefined);
    // Where the run may end with the rollback, the session's reset rides in the same query; true: done.
    const rollbackAndReset = () =>
      boundedQuery(client, `ROLLBACK;\n${SESSION_RESET_SQL}`, this.queryTimeoutMs).then(
        () => true,
        () => false,
      );
    if (ctx.signal.aborted) throw new TargetFault("CANCELED_BEFORE_START", "canceled before start");
    for (let tries = 0; ; tries++) {
      let counts: number[];
      p.phase = "sent";
      // The lease check goes out with the statement, not after it, where the context can (ownerCheckAhead):
      // a quick statement's run then waits for one round trip less before its COMMIT.
      const stillOwner = ctx.ownerCheckAhead?.() ?? (() => ctx.stillOwner());
      try {
        counts = rowCounts(await boundedQuery(client, prefix + run.statement, this.statementBound(prefix + run.statement)));
      } catch (e) {
        if (classify(e, false) === "session") throw e; // no ROLLBACK on a lost session: it would wait behind the lost query
        // Only the last branch below ends the run with nothing more sent: the others query the session again.
        const reset = await rollbackAndReset();
        const err = e as pg.DatabaseError;
        if (err.code === LEDGER_APPLY_ONCE_HIT) {
          const hit = await this.applyOnceHit(client, run, ctx);
          if (hit) return hit;
        }
        const pos = err.position ? Number(err.position) : undefined;
        const inPrefix = pos !== undefined ? pos <= prefix.length : err.table === "runway_ledger";
        if (inPrefix && err.code === "42P01" && tries === 0) {
          await ledgerEnsure(client, this.queryTimeoutMs);
          continue;
        }
        if (inPrefix && err.code === "23505") return this.ledgerHit(client, run, ctx, true);
        if (pos !== undefined && !inPrefix) err.position = String(pos - prefix.length);
        p.reset = reset;
        throw err;
      }
      const lost = await this.ownershipLost(stillOwner);
      if (lost) {
        await rollback();
        throw new TargetFault("LEASE_LOST", `${lost} before commit; rolled back`);
      }
      const rows = counts.slice(parts.length).reduce((a, b) => a + b, 0);
      p.phase = "commit";
      try {
        // The reset runs only if COMMIT succeeded: an error skips the rest of the query.
        await boundedQuery(client, `COMMIT;\n${SESSION_RESET_SQL}`, this.commitBound());
      } catch (e) {
        const unclear = { pools: this.pools, client, run, e, rows, queryTimeoutMs: this.queryTimeoutMs };
        return classify(e, false) === "statement" ? commitRefused(unclear) : commitLost(unclear);
      }
      p.reset = true;
      return { rows };
    }
  }

  /** Statements that cannot run in a transaction block (CREATE INDEX CONCURRENTLY, VACUUM …). */
  private async applyOutside(
    client: pg.PoolClient,
    url: string,
    run: ClaimedRun,
    ctx: ExecContext,
    p: Progress,
  ): Promise<ExecOutcome | Applied> {
    const fence = this.fenceSql(run, ctx);
    const name = runSessionName({ installationId: run.installationId, runId: run.id, epoch: run.epoch }, ctx.replicaId);
    const lookup = `SET application_name = ${pg.escapeLiteral(name)};\n` + (fence ? fence + ";\n" : "") + ledgerLookupSql(run);
    let applied: number;
    try {
      applied = rowCounts(await boundedQuery(client, lookup, this.queryTimeoutMs)).at(-1)!;
    } catch (e) {
      if ((e as { code?: string }).code !== "42P01") throw e;
      await ledgerEnsure(client, this.queryTimeoutMs);
      applied = rowCounts(await boundedQuery(client, lookup, this.queryTimeoutMs)).at(-1)!;
    }
    if (applied > 0) return this.ledgerHit(client, run, ctx, false);
    const once = await this.applyOnceHit(client, run, ctx);
    if (once) return once;
    if (ctx.signal.aborted) throw new TargetFault("CANCELED_BEFORE_START", "canceled before start");
    // No transaction will hold this statement back at the end: a zombie owner must not even start it.
    const lost = await this.ownershipLost(() => ctx.stillOwner());
    if (lost) throw new TargetFault("LEASE_LOST", `${lost} before the statement was sent; nothing ran`);
    p.phase = "sent";
    let rows: number;
    try {
      rows = rowCounts(await boundedQuery(client, run.statement, this.statementBound(run.statement))).reduce((a, b) => a + b, 0);
    } catch (e) {
      await sayWhatTheBuildLeft(client, run.statement, e, this.queryTimeoutMs);
      throw e;
    }
    const r = await recordApplied(this.pools, url, client, run, ctx, name, {
      queryTimeoutMs: this.queryTimeoutMs,
      connectTimeoutMs: this.opts.connectTimeoutMs ?? 10_000,
      retryMs: this.opts.ledgerRetryMs ?? 60_000,
    });
    // The statement is applied whatever became of its record: DONE, saying so when the ledger lacks it.
    return { rows, ...(r.unrecorded ? { note: r.unrecorded } : {}), ...(r.broken ? { broken: true } : {}) };
  }
}
