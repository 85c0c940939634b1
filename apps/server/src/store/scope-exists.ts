import { sql } from "kysely";
import type { Db } from "./db.js";
import type { ProjectRef } from "./project-members.js";

/** Whether what a request path names exists (a project that is not deleted, a rollout, a task, a run): one primary-key probe. */
export async function scopeExists(db: Db, ref: ProjectRef): Promise<boolean> {
  const probe =
    "projectId" in ref
      ? sql`SELECT 1 FROM project WHERE id = ${ref.projectId} AND NOT deleted`
      : "rolloutId" in ref
        ? sql`SELECT 1 FROM rollout WHERE id = ${ref.rolloutId}`
        : "taskId" in ref
          ? sql`SELECT 1 FROM task WHERE id = ${ref.taskId}`
          : sql`SELECT 1 FROM task_run WHERE id = ${ref.taskRunId}`;
  const { rows } = await sql<{ found: boolean }>`SELECT EXISTS (${probe}) AS found`.execute(db);
  return rows[0]?.found === true;
}
