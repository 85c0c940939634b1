import { sql } from "kysely";
import type { Db } from "./db.js";
import { StoreError } from "./errors.js";
import { gatingRequestFullPass } from "./gating.js";
import { notifyPending } from "./notify.js";

export interface Project {
  id: string;
  title: string;
  parallelTasksPerRollout: number;
}

const toProject = (r: { id: string; title: string; parallel_tasks_per_rollout: number }): Project => ({
  id: r.id,
  title: r.title,
  parallelTasksPerRollout: r.parallel_tasks_per_rollout,
});

export async function projectCreate(db: Db, p: Project): Promise<Project> {
  const row = await db
    .insertInto("project")
    .values({ id: p.id, title: p.title, parallel_tasks_per_rollout: p.parallelTasksPerRollout })
    .onConflict((oc) => oc.column("id").doNothing())
    .returning(["id", "title", "parallel_tasks_per_rollout"])
    .executeTakeFirst();
  if (!row) throw new StoreError("CONFLICT", `project "${p.id}" already exists`);
  return toProject(row);
}

export async function projectGet(db: Db, id: string): Promise<Project | undefined> {
  const row = await db
    .selectFrom("project")
    .select(["id", "title", "parallel_tasks_per_rollout"])
    .where("id", "=", id)
    .where("deleted", "=", false)
    .executeTakeFirst();
  return row && toProject(row);
}

export async function projectList(db: Db): Promise<Project[]> {
  const rows = await db
    .selectFrom("project")
    .select(["id", "title", "parallel_tasks_per_rollout"])
    .where("deleted", "=", false)
    .orderBy("id")
    .execute();
  return rows.map(toProject);
}

/**
 * Updates title and/or limit. A changed limit rewrites every limit-held run's cause and may free slots,
 * so the project's rollouts with PENDING runs are marked for the next gating pass.
 */
export async function projectUpdate(
  db: Db,
  id: string,
  patch: { title?: string; parallelTasksPerRollout?: number },
  now: Date,
): Promise<Project> {
  return db.transaction().execute(async (trx) => {
    const before = await trx
      .selectFrom("project")
      .select(["parallel_tasks_per_rollout"])
      .where("id", "=", id)
      .where("deleted", "=", false)
      .forUpdate()
      .executeTakeFirst();
    if (!before) throw new StoreError("NOT_FOUND", `project "${id}" not found`);
    const row = await trx
      .updateTable("project")
      .set({
        ...(patch.title !== undefined ? { title: patch.title } : {}),
        ...(patch.parallelTasksPerRollout !== undefined ? { parallel_tasks_per_rollout: patch.parallelTasksPerRollout } : {}),
        updated_at: now,
      })
      .where("id", "=", id)
      .returning(["id", "title", "parallel_tasks_per_rollout"])
      .executeTakeFirstOrThrow();
    if (patch.parallelTasksPerRollout !== undefined && patch.parallelTasksPerRollout !== before.parallel_tasks_per_rollout) {
      await sql`
        INSERT INTO gating_dirty_rollout (rollout_id, all_limited)
        SELECT DISTINCT r.rollout_id, true FROM task_run r JOIN rollout ro ON ro.id = r.rollout_id
        WHERE ro.project_id = ${id} AND r.status = 'PENDING'`.execute(trx);
      await notifyPending(trx);
    }
    return toProject(row);
  });
}

/** Soft delete: the pending scheduler fails the project's PENDING runs with a clear result. */
export async function projectDelete(db: Db, id: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const res = await trx
      .updateTable("project")
      .set({ deleted: true })
      .where("id", "=", id)
      .where("deleted", "=", false)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) throw new StoreError("NOT_FOUND", `project "${id}" not found`);
    await gatingRequestFullPass(trx);
    await notifyPending(trx);
  });
}
