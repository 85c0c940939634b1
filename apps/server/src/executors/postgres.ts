import { createHash } from "node:crypto";
import pg from "pg";
import { TaskType } from "@runway/shared";
import type { ClaimedRun } from "../store/runs.js";
import { runsOutsideTransaction } from "./statement-kind.js";
import type { ExecContext, ExecOutcome, Executor } from "./types.js";

/**
 * Applies a task's statement to its target PostgreSQL database. Transactional statements commit together
 * with a row in the target's `runway_ledger`, and a run first looks there: a statement already recorded
 * for the task is never applied again, which makes re-running after failover safe.
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

const sumRows = (res: pg.QueryResult | pg.QueryResult[]): number =>
  (Array.isArray(res) ? res : [res]).reduce((n, r) => n + (r.rowCount ?? 0), 0);

export class PostgresExecutor implements Executor {
  constructor(private readonly opts: { statementTimeoutMs: number; connectTimeoutMs?: number }) {}

  /**
   * Connects, retrying a few times: a connection-phase error (a timeout across a pause, a restart of the
   * target) has not run anything, so it must not fail the task at the first try.
   */
  private async connect(url: string, run: ClaimedRun, replicaId: string): Promise<pg.Client> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.connectOnce(url, run, replicaId);
      } catch (e) {
        if (attempt >= CONNECT_ATTEMPTS || isStatementError(e)) throw e;
        await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
      }
    }
  }

  private async connectOnce(url: string, run: ClaimedRun, replicaId: string): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: url,
      // Visible in the target's pg_stat_activity; max 63 bytes.
      application_name: `runway run ${run.id} attempt ${run.attempt} epoch ${run.epoch} ${replicaId}`.slice(0, 63),
      statement_timeout: this.opts.statementTimeoutMs || undefined,
      connectionTimeoutMillis: this.opts.connectTimeoutMs ?? 10_000,
    });
    client.on("error", () => undefined);
    try {
      await client.connect();
    } catch (e) {
      await client.end().catch(() => undefined);
      throw e;
    }
    return client;
  }

  /**
   * A zombie owner (frozen past its lease) may still hold an open transaction for this run on the
   * target. End the sessions of older epochs before applying, so it can never commit after the takeover.
   */
  private async fenceOlderEpochs(client: pg.Client, run: ClaimedRun): Promise<void> {
    const prefix = `runway run ${run.id} attempt ${run.attempt} epoch `;
    await client.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE application_name LIKE $1 AND application_name NOT LIKE $2 AND pid <> pg_backend_pid()`,
      [prefix.replace(/[%_\\]/g, "\\$&") + "%", (prefix + run.epoch + " ").replace(/[%_\\]/g, "\\$&") + "%"],
    );
  }

  /** Aborts the running statement on the target from a second connection when the signal fires. */
  private cancelOnAbort(client: pg.Client, url: string, pid: number, signal: AbortSignal): () => void {
    const onAbort = () => {
      const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
      c.on("error", () => undefined);
      void c.connect().then(() => c.query("SELECT pg_cancel_backend($1)", [pid])).catch(() => undefined).finally(() => c.end().catch(() => undefined));
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
      return { status: "FAILED", result: errorResult(e), message: (e as Error).message };
    }
  }

  private async createDatabase(run: ClaimedRun, ctx: ExecContext): Promise<ExecOutcome> {
    const client = await this.connect(run.connectionUrl, run, ctx.replicaId);
    try {
      const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [run.database]);
      if (exists.rowCount) {
        await ctx.log("EXECUTE", { message: `database "${run.database}" already exists` });
        return { status: "DONE", result: { created: false }, message: `database "${run.database}" already exists` };
      }
      const stmt = run.statement.trim() || `CREATE DATABASE ${client.escapeIdentifier(run.database)}`;
      try {
        await client.query(stmt);
      } catch (e) {
        // Another attempt created it between our check and our statement: same end state.
        if ((e as PgError).code !== "42P04") throw e;
      }
      return { status: "DONE", result: { created: true }, message: `database "${run.database}" created` };
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private async apply(run: ClaimedRun, ctx: ExecContext, started: number): Promise<ExecOutcome> {
    const url = targetUrl(run.connectionUrl, run.database);
    const client = await this.connect(url, run, ctx.replicaId);
    const checksum = createHash("sha256").update(run.statement).digest("hex");
    let detach = () => undefined as void;
    try {
      if (run.epoch > 1 && ctx.fenceTarget) await this.fenceOlderEpochs(client, run);
      const exists = await client.query("SELECT to_regclass('public.runway_ledger') IS NOT NULL AS ok");
      if (!(exists.rows[0] as { ok: boolean }).ok) {
        await client.query("BEGIN");
        await client.query("SELECT pg_advisory_xact_lock($1)", [LEDGER_LOCK]);
        await client.query(LEDGER_DDL);
        await client.query("COMMIT");
      }
      const applied = await client.query(
        "SELECT attempt, applied_at FROM public.runway_ledger WHERE installation_id = $1 AND task_id = $2",
        [run.installationId, run.taskId],
      );
      if (applied.rowCount) {
        const row = applied.rows[0] as { attempt: number; applied_at: Date };
        const message = `already applied by attempt ${row.attempt} at ${row.applied_at.toISOString()}; not applied again`;
        await ctx.log("LEDGER_HIT", { message });
        return { status: "DONE", result: { alreadyApplied: true, rowsAffected: 0 }, message };
      }
      const pid = ((await client.query("SELECT pg_backend_pid() AS pid")).rows[0] as { pid: number }).pid;
      detach = this.cancelOnAbort(client, url, pid, ctx.signal);
      if (ctx.signal.aborted) throw new Error("canceled before start");
      const ledgerInsert = [
        "INSERT INTO public.runway_ledger (installation_id, task_id, attempt, run_id, schema_version, checksum) VALUES ($1, $2, $3, $4, $5, $6)",
        [run.installationId, run.taskId, run.attempt, run.id, run.schemaVersion, checksum],
      ] as const;
      let rows: number;
      if (runsOutsideTransaction(run.type, run.statement)) {
        rows = sumRows(await client.query(run.statement));
        await client.query(ledgerInsert[0] + " ON CONFLICT DO NOTHING", [...ledgerInsert[1]]);
      } else {
        await client.query("BEGIN");
        try {
          await client.query(ledgerInsert[0], [...ledgerInsert[1]]);
        } catch (e) {
          await client.query("ROLLBACK").catch(() => undefined);
          if ((e as PgError).code === "23505") {
            const message = "applied concurrently by another attempt; not applied again";
            await ctx.log("LEDGER_HIT", { message });
            return { status: "DONE", result: { alreadyApplied: true, rowsAffected: 0 }, message };
          }
          throw e;
        }
        try {
          rows = sumRows(await client.query(run.statement));
          if (!(await ctx.stillOwner())) throw new Error("lease lost before commit; rolled back");
          await client.query("COMMIT");
        } catch (e) {
          await client.query("ROLLBACK").catch(() => undefined);
          throw e;
        }
      }
      const durationMs = Math.round(performance.now() - started);
      const message = `applied: ${rows} row(s) affected in ${durationMs} ms`;
      await ctx.log("EXECUTE", { message, rowsAffected: rows, durationMs });
      return { status: "DONE", result: { rowsAffected: rows, durationMs }, message };
    } finally {
      detach();
      await client.end().catch(() => undefined);
    }
  }
}
