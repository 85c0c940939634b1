import { sql } from "kysely";
import type { EnvironmentPolicy, Pause, ProjectPolicies, RolloutGates, StageDecision } from "@runway/shared/schemas";
import type { Db } from "./db.js";
import { StoreError } from "./errors.js";
import { notifyChange, notifyPending } from "./notify.js";
import { taskRunsCancelNow } from "./transitions/api.js";
import { taskRunsUnpromote } from "./transitions/pause.js";
import { recordEvent } from "./webhook-events.js";

/** Release controls (issue 13): environment policies, stage approvals, pause and resume. */

export async function projectPoliciesGet(db: Db, projectId: string): Promise<ProjectPolicies> {
  const project = await db
    .selectFrom("project")
    .select("circuit_breaker_failures")
    .where("id", "=", projectId)
    .where("deleted", "=", false)
    .executeTakeFirst();
  if (!project) throw new StoreError("NOT_FOUND", `project "${projectId}" not found`);
  const rows = await db.selectFrom("environment_policy").selectAll().where("project_id", "=", projectId).orderBy("environment").execute();
  return {
    circuitBreakerFailures: project.circuit_breaker_failures,
    environments: rows.map((r) => ({
      environment: r.environment,
      autoRun: r.auto_run,
      approval: r.approval as EnvironmentPolicy["approval"],
      approverNotCreator: r.approver_not_creator,
    })),
  };
}

/**
 * Replaces the project's policies. Approvals apply to runs already waiting; auto-run applies when a stage
 * completes from now on; the breaker counts each rollout's failed runs since its last resume.
 */
export async function projectPoliciesPut(
  db: Db,
  projectId: string,
  p: ProjectPolicies,
  actor: string,
  now: Date,
): Promise<ProjectPolicies> {
  const envs = p.environments.map((e) => e.environment);
  if (new Set(envs).size !== envs.length) throw new StoreError("INVALID_ARGUMENT", "each environment may appear once");
  await db.transaction().execute(async (trx) => {
    const res = await trx
      .updateTable("project")
      .set({ circuit_breaker_failures: p.circuitBreakerFailures, updated_at: now })
      .where("id", "=", projectId)
      .where("deleted", "=", false)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) throw new StoreError("NOT_FOUND", `project "${projectId}" not found`);
    await trx.deleteFrom("environment_policy").where("project_id", "=", projectId).execute();
    if (p.environments.length > 0) {
      await trx
        .insertInto("environment_policy")
        .values(
          p.environments.map((e) => ({
            project_id: projectId,
            environment: e.environment,
            auto_run: e.autoRun,
            approval: e.approval,
            approver_not_creator: e.approverNotCreator,
            updated_by: actor,
            updated_at: now,
          })),
        )
        .execute();
    }
    // Who must approve may change for any waiting run of the project: each is evaluated again (a rare
    // admin action, proportional to the project's backlog rather than everyone's).
    await sql`INSERT INTO gating_dirty_run (run_id)
      SELECT r.id FROM rollout ro JOIN task_run r ON r.rollout_id = ro.id AND r.status = 'PENDING'
      WHERE ro.project_id = ${projectId}`.execute(trx);
    await notifyPending(trx);
  });
  return projectPoliciesGet(db, projectId);
}

async function markPending(trx: Db, where: { rolloutId: string } | { stageId: string }): Promise<void> {
  const cond =
    "rolloutId" in where ? sql`r.rollout_id = ${where.rolloutId}` : sql`t.stage_id = ${where.stageId} AND r.rollout_id = t.rollout_id`;
  await sql`INSERT INTO gating_dirty_run (run_id)
    SELECT r.id FROM task_run r JOIN task t ON t.id = r.task_id WHERE r.status = 'PENDING' AND ${cond}`.execute(trx);
  await notifyPending(trx);
}

/**
 * Pauses a rollout: no promotion (PAUSED) and no claim of its runs; AVAILABLE runs go back to PENDING,
 * RUNNING ones finish. CONFLICT when already paused. Used by the API and by the circuit breaker's pass.
 */
export async function rolloutPause(
  trx: Db,
  p: { rolloutId: string; by: string; reason: string; automatic: boolean; now: Date; replicaId: string | null },
): Promise<Pause> {
  const { rows } = await sql<{ paused_at: Date }>`
    INSERT INTO rollout_pause (rollout_id, paused_by, paused_at, reason, automatic)
    SELECT id, ${p.by}, ${p.now}, ${p.reason}, ${p.automatic} FROM rollout WHERE id = ${p.rolloutId}
    ON CONFLICT (rollout_id) DO NOTHING RETURNING paused_at`.execute(trx);
  if (rows.length === 0) {
    const exists = await trx.selectFrom("rollout").select("id").where("id", "=", p.rolloutId).executeTakeFirst();
    if (!exists) throw new StoreError("NOT_FOUND", `rollout ${p.rolloutId} not found`);
    throw new StoreError("CONFLICT", `rollout ${p.rolloutId} is already paused`);
  }
  await taskRunsUnpromote(trx, {
    rolloutIds: [p.rolloutId],
    name: p.automatic ? "trip" : "pause",
    reason: `rollout paused by ${p.by}`,
    now: p.now,
    replicaId: p.replicaId,
  });
  await markPending(trx, { rolloutId: p.rolloutId });
  await notifyChange(trx, [p.rolloutId]);
  // Webhooks (issue 18): recorded in the pause's own transaction, by hand or by the circuit breaker.
  await recordEvent(trx, {
    kind: "ROLLOUT_PAUSED",
    rolloutId: p.rolloutId,
    facts: { by: p.by, reason: p.reason, automatic: p.automatic },
    now: p.now,
  });
  return { by: p.by, at: p.now.toISOString(), reason: p.reason, automatic: p.automatic };
}

export async function rolloutPauseApi(db: Db, p: { rolloutId: string; by: string; reason: string; now: Date }): Promise<Pause> {
  return db.transaction().execute((trx) => rolloutPause(trx, { ...p, automatic: false, replicaId: null }));
}

/** Resumes a paused rollout; the circuit breaker counts failures from now on. CONFLICT when not paused. */
export async function rolloutResume(db: Db, p: { rolloutId: string; now: Date }): Promise<Pause> {
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ paused_by: string; paused_at: Date; reason: string; automatic: boolean }>`
      DELETE FROM rollout_pause WHERE rollout_id = ${p.rolloutId} RETURNING paused_by, paused_at, reason, automatic`.execute(trx);
    const was = rows[0];
    if (!was) {
      const exists = await trx.selectFrom("rollout").select("id").where("id", "=", p.rolloutId).executeTakeFirst();
      if (!exists) throw new StoreError("NOT_FOUND", `rollout ${p.rolloutId} not found`);
      throw new StoreError("CONFLICT", `rollout ${p.rolloutId} is not paused`);
    }
    await trx.updateTable("rollout").set({ breaker_reset_at: p.now }).where("id", "=", p.rolloutId).execute();
    await markPending(trx, { rolloutId: p.rolloutId });
    await notifyChange(trx, [p.rolloutId]);
    return { by: was.paused_by, at: was.paused_at.toISOString(), reason: was.reason, automatic: was.automatic };
  });
}

export interface StageForDecision {
  stageId: string;
  environment: string;
  rolloutCreatedBy: string;
  approval: "none" | "releaser" | "admin";
  approverNotCreator: boolean;
}

/** The stage (of the rollout) and the policy its decision is checked against. NOT_FOUND otherwise. */
export async function stageForDecision(db: Db, rolloutId: string, stageId: string): Promise<StageForDecision> {
  const { rows } = await sql<{ environment: string; created_by: string; approval: string | null; approver_not_creator: boolean | null }>`
    SELECT s.environment, ro.created_by, ep.approval, ep.approver_not_creator
    FROM stage s JOIN rollout ro ON ro.id = s.rollout_id
    LEFT JOIN environment_policy ep ON ep.project_id = ro.project_id AND ep.environment = s.environment
    WHERE s.id = ${stageId} AND s.rollout_id = ${rolloutId}`.execute(db);
  const r = rows[0];
  if (!r) throw new StoreError("NOT_FOUND", `stage ${stageId} not found in rollout ${rolloutId}`);
  return {
    stageId,
    environment: r.environment,
    rolloutCreatedBy: r.created_by,
    approval: (r.approval ?? "none") as StageForDecision["approval"],
    approverNotCreator: r.approver_not_creator ?? false,
  };
}

/**
 * Records an approval or a rejection. An approval lets the stage's waiting runs go (marked for the next
 * pass); a rejection cancels its PENDING and AVAILABLE runs with the comment in their log.
 */
export async function stageDecide(
  db: Db,
  p: { rolloutId: string; stageId: string; decision: "APPROVED" | "REJECTED"; by: string; comment: string; now: Date },
): Promise<StageDecision> {
  return db.transaction().execute(async (trx) => {
    // Serializes decisions on one stage, so the latest one is the one recorded last.
    const stage = await sql<{
      id: string;
    }>`SELECT id FROM stage WHERE id = ${p.stageId} AND rollout_id = ${p.rolloutId} FOR UPDATE`.execute(trx);
    if (stage.rows.length === 0) throw new StoreError("NOT_FOUND", `stage ${p.stageId} not found in rollout ${p.rolloutId}`);
    await trx
      .insertInto("stage_approval")
      .values({ stage_id: p.stageId, decision: p.decision, decided_by: p.by, decided_at: p.now, comment: p.comment })
      .execute();
    if (p.decision === "APPROVED") {
      await markPending(trx, { stageId: p.stageId });
    } else {
      const { rows } = await sql<{ id: string }>`
        SELECT r.id FROM task_run r JOIN task t ON t.id = r.task_id
        WHERE t.stage_id = ${p.stageId} AND r.rollout_id = ${p.rolloutId} AND r.status IN ('PENDING', 'AVAILABLE')
        ORDER BY r.id FOR UPDATE OF r`.execute(trx);
      const reason = `stage rejected by ${p.by}` + (p.comment ? `: ${p.comment}` : "");
      await taskRunsCancelNow(trx, { runIds: rows.map((r) => r.id), actor: p.by, now: p.now, replicaId: null, reason });
    }
    await notifyChange(trx, [p.rolloutId]);
    return { decision: p.decision, by: p.by, at: p.now.toISOString(), comment: p.comment };
  });
}

/** A rollout's controls as the dashboard shows them (without the caller-specific `can*` flags). */
export async function rolloutGatesGet(
  db: Db,
  rolloutId: string,
): Promise<
  | (Omit<RolloutGates, "canPause" | "stages"> & {
      stages: Omit<RolloutGates["stages"][number], "canDecide" | "waitingFor">[];
    })
  | undefined
> {
  const { rows } = await sql<{
    stage_order: "NONE" | "IN_ORDER";
    created_by: string;
    pause: Pause | null;
    stages: {
      stageId: string;
      environment: string;
      position: number;
      done: number;
      total: number;
      approval: "none" | "releaser" | "admin";
      approverNotCreator: boolean;
      autoRun: boolean;
      decisions: StageDecision[];
    }[];
  }>`
    SELECT ro.stage_order, ro.created_by,
      (SELECT json_build_object('by', paused_by, 'at', paused_at, 'reason', reason, 'automatic', automatic)
        FROM rollout_pause WHERE rollout_id = ro.id) AS pause,
      (SELECT coalesce(json_agg(json_build_object(
          'stageId', s.id::text, 'environment', s.environment, 'position', s.position,
          'done', (SELECT count(*) FROM task t WHERE t.stage_id = s.id AND t.status IN ('DONE', 'SKIPPED')),
          'total', (SELECT count(*) FROM task t WHERE t.stage_id = s.id),
          'approval', coalesce(ep.approval, 'none'), 'approverNotCreator', coalesce(ep.approver_not_creator, false),
          'autoRun', coalesce(ep.auto_run, false),
          'decisions', (SELECT coalesce(json_agg(json_build_object('decision', a.decision, 'by', a.decided_by, 'at', a.decided_at,
              'comment', a.comment) ORDER BY a.id DESC), '[]') FROM stage_approval a WHERE a.stage_id = s.id)
        ) ORDER BY s.position), '[]')
        FROM stage s LEFT JOIN environment_policy ep ON ep.project_id = ro.project_id AND ep.environment = s.environment
        WHERE s.rollout_id = ro.id) AS stages
    FROM rollout ro WHERE ro.id = ${rolloutId}`.execute(db);
  const r = rows[0];
  if (!r) return undefined;
  const iso = (t: string) => new Date(t).toISOString();
  return {
    rolloutId,
    stageOrder: r.stage_order,
    createdBy: r.created_by,
    paused: r.pause ? { ...r.pause, at: iso(r.pause.at) } : null,
    stages: r.stages.map((s) => ({ ...s, decisions: s.decisions.map((d) => ({ ...d, at: iso(d.at) })) })),
  };
}
