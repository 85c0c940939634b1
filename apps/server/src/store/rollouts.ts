import { sql } from "kysely";
import { versionSortKey, type TaskType } from "@runway/shared";
import type { Db } from "./db.js";
import { StoreError } from "./errors.js";
import { planStatementsYielding, type StatementPlan } from "../domain/statements.js";
import { refusalSummary } from "../domain/refusals.js";
import { notifyChange, notifyPending } from "./notify.js";
import { instancesAttachedOrThrow } from "./instances.js";
import { taskChecksWriteLint, type LintRow } from "./task-checks.js";

export interface NewTask {
  type: TaskType;
  instanceId: string;
  database: string;
  statement: string;
  schemaVersion?: string | null;
  /**
   * The executor skips the task when the target's ledger already records its version (VERSION) or its
   * exact content (CONTENT) under another task. Every task with a schema version is VERSION: a version is
   * applied once per database, whichever rollout brought it (as in Flyway's history). Tasks planned from a
   * release's unversioned files are CONTENT (issue 16).
   */
  applyOnce?: "VERSION" | "CONTENT" | null;
}

export interface NewRollout {
  projectId: string;
  title: string;
  createdBy: string;
  stages: { environment: string; tasks: NewTask[] }[];
  /** Lint results per task in order (issue 15), written with the tasks; may still be running while statements are planned. */
  lint?: Promise<LintRow[]>;
  /** Default IN_ORDER: a stage's runs wait for every earlier stage's tasks to be DONE or SKIPPED. */
  stageOrder?: "NONE" | "IN_ORDER";
}

/**
 * Creates a rollout with its stages and tasks (all NOT_STARTED) in one transaction, with one statement
 * per table whatever the number of tasks. New versioned tasks can hold back PENDING runs of higher
 * versions on their databases, so those databases are marked for the next gating pass.
 */
export async function rolloutCreate(db: Db, r: NewRollout, now: Date): Promise<string> {
  const plans = await planRolloutStatements(r);
  // The lint (squawk in its own processes) goes on while the tasks are inserted; its results are awaited last.
  r.lint?.catch(() => undefined);
  return db.transaction().execute(async (trx) => {
    const project = await trx.selectFrom("project").select(["id", "deleted"]).where("id", "=", r.projectId).executeTakeFirst();
    if (!project || project.deleted) throw new StoreError("NOT_FOUND", `project "${r.projectId}" not found`);
    const instanceIds = [...new Set(r.stages.flatMap((s) => s.tasks.map((t) => t.instanceId)))];
    if (instanceIds.length > 0) {
      const found = await trx.selectFrom("instance").select("id").where("id", "in", instanceIds).where("deleted", "=", false).execute();
      const missing = instanceIds.filter((id) => !found.some((f) => f.id === id));
      if (missing.length > 0) {
        throw new StoreError("NOT_FOUND", `instances not found: ${missing.join(", ")}`, { instanceIds: missing });
      }
    }
    await instancesAttachedOrThrow(trx, r.projectId, r.stages);
    const rollout = await trx
      .insertInto("rollout")
      .values({
        project_id: r.projectId,
        title: r.title,
        created_by: r.createdBy,
        created_at: now,
        stage_order: r.stageOrder ?? "IN_ORDER",
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    const stageIds: string[] = [];
    if (r.stages.length > 0) {
      const { rows } = await sql<{ id: string; position: number }>`
        INSERT INTO stage (rollout_id, environment, position)
        SELECT ${rollout.id}, e, p - 1 FROM unnest(${r.stages.map((s) => s.environment)}::text[]) WITH ORDINALITY AS x(e, p)
        ORDER BY p RETURNING id, position`.execute(trx);
      stageIds.push(...rows.sort((a, b) => a.position - b.position).map((x) => x.id));
    }
    const tasks = r.stages.flatMap((s, i) => s.tasks.map((t) => ({ ...t, stageId: stageIds[i]! })));
    if (tasks.length > 0) {
      const { databases, refs, shapes } = taskShapes(tasks, plans);
      // Two arrays of one element per task (database, shape) and eight of one per shape: a release's 50,000
      // tasks are 50 shapes, so PostgreSQL parses 100,000 array elements instead of 450,000 (issue 16).
      await sql`
        WITH t AS (
          INSERT INTO task (rollout_id, stage_id, instance_id, database_name, type, statement, schema_version,
            schema_version_key, rerunnable, apply_once, created_at, updated_at)
          SELECT ${rollout.id}, sh.s, sh.i, x.d, sh.ty, sh.st, sh.v, sh.k, sh.rr, sh.ao, ${now}, ${now}
          FROM unnest(${databases}::text[], ${refs}::int[]) WITH ORDINALITY AS x(d, r, o)
          JOIN unnest(${shapes.map((h) => h.stageId)}::bigint[], ${shapes.map((h) => h.instanceId)}::text[],
            ${shapes.map((h) => h.type)}::text[], ${shapes.map((h) => h.statement)}::text[], ${shapes.map((h) => h.version)}::text[],
            ${shapes.map((h) => (h.version === null ? null : versionSortKey(h.version)))}::text[],
            ${shapes.map((h) => h.rerunnable)}::boolean[], ${shapes.map((h) => h.applyOnce)}::text[])
            WITH ORDINALITY AS sh(s, i, ty, st, v, k, rr, ao, n) ON sh.n = x.r
          ORDER BY x.o
          RETURNING instance_id, database_name, schema_version_key
        )
        INSERT INTO gating_dirty_database (instance_id, database_name, version_from)
        SELECT instance_id, database_name, min(schema_version_key) FROM t WHERE schema_version_key IS NOT NULL
        GROUP BY 1, 2`.execute(trx);
      await notifyPending(trx);
      // Task ids follow the insert's order (one sequence, rows inserted ORDER BY x.o): the write maps them in SQL.
      if (r.lint) await taskChecksWriteLint(trx, { rolloutId: rollout.id, results: await r.lint, now });
    }
    await notifyChange(trx, [rollout.id]);
    return rollout.id;
  });
}

interface TaskShape {
  stageId: string;
  instanceId: string;
  type: TaskType;
  statement: string;
  version: string | null;
  rerunnable: boolean;
  applyOnce: "VERSION" | "CONTENT" | null;
}

/**
 * Splits tasks into their database and their shape (everything else), each distinct shape once: a release
 * repeats each file on every database of a group, so its tasks have as many shapes as it has files.
 * `refs[k]` is task k's shape, 1-based (PostgreSQL's ordinality).
 */
function taskShapes(
  tasks: (NewTask & { stageId: string })[],
  plans: StatementPlan[],
): { databases: string[]; refs: number[]; shapes: TaskShape[] } {
  const index = new Map<string, number>();
  const shapes: TaskShape[] = [];
  const refs = tasks.map((t, k) => {
    const shape: TaskShape = {
      stageId: t.stageId,
      instanceId: t.instanceId,
      type: t.type,
      statement: t.statement,
      version: t.schemaVersion ?? null,
      rerunnable: plans[k]!.rerunnable,
      applyOnce: t.applyOnce ?? (t.schemaVersion ? "VERSION" : null),
    };
    const key = JSON.stringify(Object.values(shape));
    let n = index.get(key);
    if (n === undefined) {
      shapes.push(shape);
      index.set(key, (n = shapes.length));
    }
    return n;
  });
  return { databases: tasks.map((t) => t.database), refs, shapes };
}

/**
 * Parses every task's statement (each distinct text once) before anything is written: transaction control,
 * a statement that cannot run in a transaction block sharing its task, a syntax error or a text of comments
 * alone refuses the
 * rollout with INVALID_ARGUMENT naming each task (stages/i/tasks/j) and statement.
 */
async function planRolloutStatements(r: NewRollout): Promise<StatementPlan[]> {
  const flat = r.stages.flatMap((s, i) => s.tasks.map((t, j) => ({ ...t, path: `stages/${i}/tasks/${j}` })));
  const results = await planStatementsYielding(flat);
  const errors = flat.flatMap((t, k) => {
    const res = results[k]!;
    if (!("refusal" in res)) return [];
    const { problem, message, statement, position, detail } = res.refusal;
    return [
      {
        path: `${t.path}/statement`,
        task: t.path,
        database: t.database,
        problem,
        statement,
        position,
        detail,
        message: `task ${t.path} (database "${t.database}"): ${message}`,
      },
    ];
  });
  if (errors.length > 0) {
    const { message, details } = refusalSummary(errors, "errors");
    throw new StoreError("INVALID_ARGUMENT", message, details);
  }
  return results.map((res) => (res as { plan: StatementPlan }).plan);
}
