import { PostgresExecutor } from "../../src/executors/postgres.js";
import { TargetGuard } from "../../src/executors/target-guard.js";
import type { SchedulerRuntime } from "../../src/scheduler/runtime.js";
import { startRuntime } from "../helpers/runtime.js";
import type { SecretBox } from "../../src/secrets/secret-box.js";
import { controlIdentity } from "../../src/store/control.js";
import type { TestDatabase } from "../helpers/db.js";
import { waitFor } from "../helpers/db.js";

/** One replica's schedulers with the production executor: target guard and sealed secrets, as main.ts wires them. */
export async function guardedRuntime(
  t: TestDatabase,
  secrets: SecretBox,
): Promise<{ runtime: SchedulerRuntime; guard: TargetGuard; stop(): Promise<void> }> {
  const guard = new TargetGuard(await controlIdentity(t.db));
  const executor = new PostgresExecutor({ statementTimeoutMs: 60_000, guard, secrets });
  const { runtime, stop } = await startRuntime({
    db: t.db,
    url: t.url,
    config: {
      replicaId: "sec",
      concurrency: 4,
      pollIntervalMs: 200,
      leaseTtlMs: 15_000,
      heartbeatIntervalMs: 1000,
      sweepIntervalMs: 1000,
      fullPassIntervalMs: 60_000,
    },
    executorFor: () => executor,
  });
  return {
    runtime,
    guard,
    stop: async () => {
      await stop(2000);
      await executor.close();
    },
  };
}

const FINAL = new Set(["DONE", "FAILED", "CANCELED"]);

/** The latest run of each task once all are final (bounded wait). */
export async function finalRuns(t: TestDatabase, taskIds: string[], timeoutMs = 60_000) {
  return waitFor(
    async () => {
      const rows = await t.db
        .selectFrom("task_run")
        .select(["task_id", "status", "result"])
        .where("task_id", "in", taskIds)
        .orderBy("attempt", "desc")
        .execute();
      const latest = taskIds.map((id) => rows.find((r) => r.task_id === id));
      return (
        latest.every((r) => r && FINAL.has(r.status)) &&
        latest.map((r) => ({ status: r!.status, result: r!.result as { error?: { code?: string; message: string } } }))
      );
    },
    { timeoutMs, what: "runs to finish" },
  );
}
