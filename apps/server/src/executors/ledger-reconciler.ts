import pg from "pg";
import { TaskType } from "@runway/shared";
import type { Reconciled, RunRef, TargetReconciler } from "./types.js";

/**
 * A small TargetReconciler: ends every session of the run on the target (named
 * `runway run <id> attempt <n> epoch <e> …` by the executor), waits until they are gone, then reads the
 * target's ledger (for DATABASE_CREATE: whether the database exists). Anything that stops it from
 * confirming within `timeoutMs` is `unreachable`.
 *
 * Stand-in for executors/reconcile.ts's PostgresReconciler (the executor work), which does the same on
 * the executor's pools with the installation-scoped session names; replica.ts wires whichever is present.
 */
export class LedgerReconciler implements TargetReconciler {
  async reconcile(run: RunRef, opts: { timeoutMs: number }): Promise<Reconciled> {
    const deadline = Date.now() + opts.timeoutMs;
    const creating = run.type === TaskType.DATABASE_CREATE;
    const url = new URL(run.connectionUrl);
    if (!creating) url.pathname = "/" + encodeURIComponent(run.database);
    const client = new pg.Client({
      connectionString: url.toString(),
      application_name: `runway reconcile ${run.id}`,
      connectionTimeoutMillis: Math.max(1, opts.timeoutMs),
      query_timeout: Math.max(1, opts.timeoutMs),
      keepAlive: true,
    });
    client.on("error", () => undefined);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`target did not answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    });
    const work = async (): Promise<Reconciled> => {
      try {
        await client.connect();
      } catch (e) {
        // Nothing can have been applied to, or still run on, a database that does not exist.
        if (!creating && (e as { code?: string }).code === "3D000") return { state: "not_applied" };
        throw e;
      }
      const pattern = `runway run ${run.id} attempt %`;
      for (let i = 0; ; i++) {
        const { rows } = await client.query<{ pid: number }>(
          "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE $1 AND pid <> pg_backend_pid()",
          [pattern],
        );
        if (rows.length === 0) break;
        if (Date.now() > deadline) throw new Error(`${rows.length} session(s) of the run still alive on the target`);
        await new Promise((r) => setTimeout(r, Math.min(20 * 2 ** i, 500)));
      }
      if (creating) {
        const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [run.database]);
        return rowCount ? { state: "applied", attempt: run.attempt, appliedAt: new Date() } : { state: "not_applied" };
      }
      try {
        const { rows } = await client.query<{ attempt: number; applied_at: Date }>(
          "SELECT attempt, applied_at FROM public.runway_ledger WHERE installation_id = $1 AND task_id = $2",
          [run.installationId, run.taskId],
        );
        return rows[0] ? { state: "applied", attempt: rows[0].attempt, appliedAt: rows[0].applied_at } : { state: "not_applied" };
      } catch (e) {
        if ((e as { code?: string }).code === "42P01") return { state: "not_applied" }; // no ledger yet: nothing applied
        throw e;
      }
    };
    try {
      return await Promise.race([work(), bound]);
    } catch (e) {
      return { state: "unreachable", error: (e as Error).message };
    } finally {
      clearTimeout(timer);
      void client.end().catch(() => undefined);
    }
  }
}
