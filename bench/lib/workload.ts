import { sql } from "kysely";
import type { TaskType } from "@runway/shared";
import { type Db, instanceCreate, type NewTask, projectCreate, rolloutCreate, type Sealer, tasksRun } from "@runway/server/store";

/**
 * Builds a workload through the store's own write functions (project, instance, rollouts, runs), so what
 * the schedulers then see is exactly what the API would have produced.
 */
export interface Workload {
  rollouts: { id: string; taskIds: string[] }[];
}

/**
 * The benchmark's executors get no secret key, so its instance URL is stored as rows from before
 * encryption were (opening a sealed URL is one AES-GCM decryption per run: microseconds).
 */
const plaintextRows: Sealer = { seal: (s) => s };

export async function createWorkload(
  db: Db,
  p: { parallelLimit: number; connectionUrl: string; rollouts: NewTask[][] },
): Promise<Workload> {
  await projectCreate(db, { id: "bench", title: "Bench", parallelTasksPerRollout: p.parallelLimit });
  await instanceCreate(db, { id: "bench-i", title: "Bench target", connectionUrl: p.connectionUrl, projectIds: ["bench"] }, plaintextRows);
  const rollouts: Workload["rollouts"] = [];
  for (const [i, tasks] of p.rollouts.entries()) {
    const id = await rolloutCreate(
      db,
      { projectId: "bench", title: `bench ${i + 1}`, createdBy: "bench", stages: [{ environment: "prod", tasks }] },
      new Date(),
    );
    const { rows } = await sql<{ id: string }>`SELECT id FROM task WHERE rollout_id = ${id} ORDER BY id`.execute(db);
    rollouts.push({ id, taskIds: rows.map((r) => r.id) });
  }
  return { rollouts };
}

/** Creates PENDING runs for every task of the workload (in chunks: one transaction locks its tasks). */
export async function runAll(db: Db, w: Workload, chunk = 5000): Promise<void> {
  for (const r of w.rollouts) {
    for (let i = 0; i < r.taskIds.length; i += chunk) {
      await tasksRun(db, { rolloutId: r.id, taskIds: r.taskIds.slice(i, i + chunk), runAt: null, actor: "bench", now: new Date() });
    }
  }
}

export const dataTask = (database: string, statement = "SELECT 1"): NewTask => ({
  type: "DATABASE_DATA_UPDATE" satisfies TaskType,
  instanceId: "bench-i",
  database,
  statement,
});

export const schemaTask = (database: string, version: string): NewTask => ({
  type: "DATABASE_SCHEMA_UPDATE" satisfies TaskType,
  instanceId: "bench-i",
  database,
  statement: "SELECT 1",
  schemaVersion: version,
});

/**
 * The k-th task of rollout r in the gated shape (throughput.ts, executor-profile.ts): every rollout owns
 * `dbsPerRollout` databases, and each database is a chain of versioned changes, versions ascending with k.
 */
export const chainTask = (r: number, k: number, dbsPerRollout: number): NewTask =>
  schemaTask(`db_${r * dbsPerRollout + (k % dbsPerRollout)}`, String(Math.floor(k / dbsPerRollout) + 1).padStart(4, "0"));

/** Active (PENDING/AVAILABLE/RUNNING) runs left: served by the partial index on active statuses. */
export async function activeRuns(db: Db): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM task_run WHERE status IN ('PENDING', 'AVAILABLE', 'RUNNING')`.execute(db);
  return rows[0]!.n;
}
