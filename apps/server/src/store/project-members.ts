import { sql } from "kysely";
import type { Db } from "./db.js";
import { StoreError } from "./errors.js";

/** A per-project role: replaces the user's global role inside one project (`none` hides it). */
export type ProjectRole = "none" | "viewer" | "releaser";

/** What a project-scoped request names; each resolves to its project. */
export type ProjectRef = { projectId: string } | { rolloutId: string } | { taskId: string } | { taskRunId: string };

export interface ProjectMember {
  username: string;
  role: ProjectRole;
  grantedBy: string;
  grantedAt: string;
}

function projectOf(ref: ProjectRef) {
  if ("projectId" in ref) return sql`SELECT ${ref.projectId}::text`;
  if ("rolloutId" in ref) return sql`SELECT project_id FROM rollout WHERE id = ${ref.rolloutId}`;
  if ("taskId" in ref) return sql`SELECT r.project_id FROM task t JOIN rollout r ON r.id = t.rollout_id WHERE t.id = ${ref.taskId}`;
  return sql`SELECT r.project_id FROM task_run x JOIN rollout r ON r.id = x.rollout_id WHERE x.id = ${ref.taskRunId}`;
}

/**
 * The project `ref` belongs to and the user's grant there (null: none, the global role applies), in one
 * round trip. Undefined when `ref` names nothing (the route answers 404 itself).
 */
export async function projectGrantOf(
  db: Db,
  username: string,
  ref: ProjectRef,
): Promise<{ projectId: string; grant: ProjectRole | null } | undefined> {
  const { rows } = await sql<{ project_id: string; role: ProjectRole | null }>`
    SELECT p.id AS project_id, m.role FROM project p
    LEFT JOIN project_member m ON m.project_id = p.id AND m.username = ${username}
    WHERE p.id = (${projectOf(ref)})`.execute(db);
  const row = rows[0];
  return row && { projectId: row.project_id, grant: row.role };
}

/** Every grant of a user: project id → role (for /auth/me, list filters and the SSE stream). */
export async function projectGrantsOf(db: Db, username: string): Promise<Record<string, ProjectRole>> {
  const rows = await db.selectFrom("project_member").select(["project_id", "role"]).where("username", "=", username).execute();
  return Object.fromEntries(rows.map((r) => [r.project_id, r.role as ProjectRole]));
}

export async function projectMemberList(db: Db, projectId: string): Promise<ProjectMember[]> {
  const rows = await db
    .selectFrom("project_member")
    .select(["username", "role", "granted_by", "granted_at"])
    .where("project_id", "=", projectId)
    .orderBy("username")
    .execute();
  return rows.map((r) => ({
    username: r.username,
    role: r.role as ProjectRole,
    grantedBy: r.granted_by,
    grantedAt: r.granted_at.toISOString(),
  }));
}

/** Grants (or changes) a user's role in a project. Admins need none: they are admins everywhere. */
export async function projectMemberSet(
  db: Db,
  p: { projectId: string; username: string; role: ProjectRole; grantedBy: string; now: Date },
): Promise<ProjectMember> {
  const { rows } = await sql<{ project: boolean; user_role: string | null }>`
    SELECT EXISTS (SELECT 1 FROM project WHERE id = ${p.projectId} AND NOT deleted) AS project,
      (SELECT role FROM app_user WHERE username = ${p.username}) AS user_role`.execute(db);
  if (!rows[0]!.project) throw new StoreError("NOT_FOUND", `project "${p.projectId}" not found`);
  if (rows[0]!.user_role === null) throw new StoreError("NOT_FOUND", `user "${p.username}" not found`);
  if (rows[0]!.user_role === "admin")
    throw new StoreError("FAILED_PRECONDITION", `user "${p.username}" is an admin, and admins are admins in every project`);
  const row = await db
    .insertInto("project_member")
    .values({ project_id: p.projectId, username: p.username, role: p.role, granted_by: p.grantedBy, granted_at: p.now })
    .onConflict((oc) => oc.columns(["project_id", "username"]).doUpdateSet({ role: p.role, granted_by: p.grantedBy, granted_at: p.now }))
    .returning(["username", "role", "granted_by", "granted_at"])
    .executeTakeFirstOrThrow();
  return { username: row.username, role: row.role as ProjectRole, grantedBy: row.granted_by, grantedAt: row.granted_at.toISOString() };
}

/** Back to the global role in that project. */
export async function projectMemberDelete(db: Db, p: { projectId: string; username: string }): Promise<void> {
  const res = await db
    .deleteFrom("project_member")
    .where("project_id", "=", p.projectId)
    .where("username", "=", p.username)
    .executeTakeFirst();
  if (Number(res.numDeletedRows) === 0)
    throw new StoreError("NOT_FOUND", `user "${p.username}" has no role of its own in project "${p.projectId}"`);
}

/** The projects of `rolloutIds` (the SSE stream filters by them). */
export async function rolloutProjects(db: Db, rolloutIds: string[]): Promise<Map<string, string>> {
  if (rolloutIds.length === 0) return new Map();
  const rows = await db.selectFrom("rollout").select(["id", "project_id"]).where("id", "in", rolloutIds).execute();
  return new Map(rows.map((r) => [r.id, r.project_id]));
}
