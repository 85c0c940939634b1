import { randomInt, randomUUID } from "node:crypto";
import pg from "pg";
import { TaskType } from "@runway/shared";
import type { ExecContext } from "../../src/executors/types.js";
import type { ClaimedRun } from "../../src/store/runs.js";
import { targetServerUrl } from "./db.js";

/**
 * Runs built by hand for executor tests that need exact identities (two installations sharing a run id,
 * a zombie of epoch 4 beside an owner of epoch 5). The executor reads nothing else of the control plane
 * than what its ExecContext gives it, so these are real inputs, not stand-ins.
 */
export function runOn(database: string, over: Partial<ClaimedRun> = {}): ClaimedRun {
  return {
    id: String(randomInt(1_000_000, 2 ** 47)),
    installationId: randomUUID(),
    taskId: String(randomInt(1, 2 ** 47)),
    rolloutId: "1",
    attempt: 1,
    epoch: 1,
    type: TaskType.DATABASE_SCHEMA_UPDATE,
    statement: "SELECT 1",
    schemaVersion: null,
    instanceId: "i",
    connectionUrl: targetServerUrl(),
    database,
    rerunnable: true,
    availableAt: new Date(),
    retrySince: null,
    retryAttempts: 0,
    ...over,
  };
}

export function execCtx(over: Partial<ExecContext> = {}): ExecContext {
  return {
    signal: new AbortController().signal,
    replicaId: "A",
    log: async () => undefined,
    stillOwner: async () => true,
    ...over,
  };
}

/** A session of its own on `url` named `applicationName`, busy with `sql` until it ends or is terminated. */
export async function sessionAs(url: string, applicationName: string, sql = "SELECT pg_sleep(60)") {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  client.on("error", () => undefined);
  await client.connect();
  const pid = (client as unknown as { processID: number }).processID;
  const done = client.query(sql).then(
    () => "finished" as const,
    (e: Error) => e.message,
  );
  return { pid, done, end: () => client.end().catch(() => undefined) };
}
