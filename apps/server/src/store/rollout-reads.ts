import { sql } from "kysely";
import { TASK_STATUS_ORDER, type TaskStatus } from "@runway/shared";
import type { Rollout, RolloutSummary, StatusCounts } from "@runway/shared/schemas";
import type { Db } from "./db.js";
import { StoreError } from "./errors.js";
import { STATUS_COUNT_COLUMNS, statusCountColumn } from "./gating-stages.js";

export const emptyCounts = (): StatusCounts => Object.fromEntries(TASK_STATUS_ORDER.map((s) => [s, 0])) as StatusCounts;

/**
 * Status counts per stage (and summed per rollout) from stage_status_count plus the deltas no pass has folded
 * yet (migration 0067): both are written in the transaction that changed the tasks, so the sum is exact in
 * this statement's snapshot, and it costs a row per stage, not a read of every task. No index of `task` has
 * `status` as a key, so that a run's claim or promotion updates its task without an index entry (0066).
 */
async function countsBy(db: Db, column: "rollout_id" | "stage_id", where: { rolloutIds: string[] }): Promise<Map<string, StatusCounts>> {
  const out = new Map<string, StatusCounts>();
  if (where.rolloutIds.length === 0) return out;
  const cols = STATUS_COUNT_COLUMNS;
  const { rows } = await sql<{ k: string } & Record<string, number>>`
    SELECT ${sql.ref(`s.${column === "rollout_id" ? "rollout_id" : "id"}`)}::text AS k,
      ${sql.join(cols.map((c) => sql`(coalesce(sum(${sql.ref(`c.${c}`)}), 0) + coalesce(sum(${sql.ref(`d.${c}`)}), 0))::int AS ${sql.ref(c)}`))}
    FROM stage s
    LEFT JOIN stage_status_count c ON c.stage_id = s.id
    LEFT JOIN (
      SELECT stage_id, ${sql.join(cols.map((c) => sql`sum(${sql.ref(c)}) AS ${sql.ref(c)}`))} FROM stage_status_delta
      WHERE stage_id IN (SELECT id FROM stage WHERE rollout_id = ANY(${where.rolloutIds}::bigint[])) GROUP BY stage_id
    ) d ON d.stage_id = s.id
    WHERE s.rollout_id = ANY(${where.rolloutIds}::bigint[])
    GROUP BY 1`.execute(db);
  for (const r of rows) {
    const c = emptyCounts();
    for (const status of TASK_STATUS_ORDER) c[status] = r[statusCountColumn(status)]!;
    out.set(r.k, c);
  }
  return out;
}

interface RolloutRow {
  id: string;
  project_id: string;
  title: string;
  created_at: Date;
  created_by: string;
}

const toSummary = (r: RolloutRow, counts: StatusCounts | undefined): RolloutSummary => ({
  id: r.id,
  projectId: r.project_id,
  title: r.title,
  createdAt: r.created_at.toISOString(),
  createdBy: r.created_by,
  statusCounts: counts ?? emptyCounts(),
});

/** A project's rollouts, newest first, keyset-paged by id (`rollout_project_idx`). */
export async function rolloutList(
  db: Db,
  p: { projectId: string; limit: number; beforeId: string | null },
): Promise<{ rollouts: RolloutSummary[]; more: boolean }> {
  const project = await db.selectFrom("project").select("id").where("id", "=", p.projectId).where("deleted", "=", false).executeTakeFirst();
  if (!project) throw new StoreError("NOT_FOUND", `project "${p.projectId}" not found`);
  let q = db
    .selectFrom("rollout")
    .select(["id", "project_id", "title", "created_at", "created_by"])
    .where("project_id", "=", p.projectId)
    .orderBy("id", "desc")
    .limit(p.limit + 1);
  if (p.beforeId !== null) q = q.where("id", "<", p.beforeId);
  const rows = await q.execute();
  const page = rows.slice(0, p.limit);
  const counts = await countsBy(db, "rollout_id", { rolloutIds: page.map((r) => r.id) });
  return { rollouts: page.map((r) => toSummary(r, counts.get(r.id))), more: rows.length > p.limit };
}

export async function rolloutGet(db: Db, id: string): Promise<Rollout | undefined> {
  const row = await db
    .selectFrom("rollout")
    .select(["id", "project_id", "title", "created_at", "created_by"])
    .where("id", "=", id)
    .executeTakeFirst();
  if (!row) return undefined;
  const [stages, byStage] = await Promise.all([
    db.selectFrom("stage").select(["id", "environment", "position"]).where("rollout_id", "=", id).orderBy("position").execute(),
    countsBy(db, "stage_id", { rolloutIds: [id] }),
  ]);
  // Every task is in a stage of its rollout (0060's key): the rollout's counts are its stages' summed, one
  // read instead of two (a 10,000-task create answers with this).
  const total = emptyCounts();
  for (const c of byStage.values()) for (const k of Object.keys(total) as TaskStatus[]) total[k] += c[k];
  return {
    ...toSummary(row, total),
    stages: stages.map((s) => ({
      id: s.id,
      environment: s.environment,
      position: s.position,
      statusCounts: byStage.get(s.id) ?? emptyCounts(),
    })),
  };
}

/** Whether the rollout exists (SSE subscriptions and other cheap checks). */
export async function rolloutExists(db: Db, id: string): Promise<boolean> {
  return (await db.selectFrom("rollout").select("id").where("id", "=", id).executeTakeFirst()) !== undefined;
}
