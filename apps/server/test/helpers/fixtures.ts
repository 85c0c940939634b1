import { TaskType } from "@runway/shared";
import type { Db } from "../../src/store/db.js";
import { instanceCreate, type Sealer } from "../../src/store/instances.js";
import { projectCreate } from "../../src/store/projects.js";
import { rolloutCreate, type NewTask } from "../../src/store/rollouts.js";
import { tasksRun } from "../../src/store/task-actions.js";

/**
 * Fixtures store connection URLs as rows from before encryption looked (plaintext), which every executor
 * opens without a key; the secrets tests (test/security) cover sealing.
 */
export const plaintextRows: Sealer = { seal: (s) => s };

/**
 * A project with its own instance (attached). An instance never connects as the superuser: the server's
 * URL is replaced by the target role's (same server, see global-setup.ts), as the target guard requires.
 */
export async function seedProject(db: Db, opts: { id?: string; limit?: number; instanceUrl?: string } = {}) {
  const id = opts.id ?? "p1";
  await projectCreate(db, { id, title: `Project ${id}`, parallelTasksPerRollout: opts.limit ?? 0 });
  const url = opts.instanceUrl === undefined ? "postgres://nobody@127.0.0.1:1/none" : await asTargetRole(opts.instanceUrl);
  await instanceCreate(db, { id: `i-${id}`, title: "Target", connectionUrl: url, projectIds: [id] }, plaintextRows);
  return { projectId: id, instanceId: `i-${id}` };
}

/** Under vitest, the test server's superuser URL becomes the target role's; chaos repro scripts keep theirs. */
async function asTargetRole(url: string): Promise<string> {
  return process.env.VITEST ? (await import("./target-role.js")).asTargetRole(url) : url;
}

/** A project policy: the prod stage runs by itself once the stages before it are done; no approval. */
export const autoRunProd = {
  circuitBreakerFailures: 0,
  environments: [{ environment: "prod", autoRun: true, approval: "none" as const, approverNotCreator: false }],
};

export function task(instanceId: string, database: string, p: Partial<NewTask> = {}): NewTask {
  return {
    type: p.type ?? TaskType.DATABASE_SCHEMA_UPDATE,
    instanceId,
    database,
    statement: p.statement ?? "SELECT 1",
    schemaVersion: p.schemaVersion ?? null,
  };
}

/** Creates a one-stage rollout and (unless `run: false`) a PENDING run for every task, in order. */
export async function seedRollout(db: Db, projectId: string, tasks: NewTask[], opts: { run?: boolean; runAt?: Date } = {}) {
  const now = new Date();
  const rolloutId = await rolloutCreate(db, { projectId, title: "r", createdBy: "test", stages: [{ environment: "test", tasks }] }, now);
  const rows = await db.selectFrom("task").select("id").where("rollout_id", "=", rolloutId).orderBy("id").execute();
  const taskIds = rows.map((r) => r.id);
  if (opts.run !== false) {
    for (const id of taskIds) {
      await tasksRun(db, { rolloutId, taskIds: [id], runAt: opts.runAt ?? null, actor: "test", now: new Date() });
    }
  }
  return { rolloutId, taskIds };
}
