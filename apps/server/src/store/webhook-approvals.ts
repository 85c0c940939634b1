import { sql } from "kysely";
import type { Db } from "./db.js";
import { notifyDue, wanting } from "./webhook-events.js";
import { recordedCause } from "./run-wait.js";

/**
 * STAGE_APPROVAL_WAITING (issue 18): a stage that needs an approval is announced when it first holds a run,
 * i.e. when a pending pass finds APPROVAL_REQUIRED holding a run of it (newly or as recorded: the cause is
 * the stage's, migration 0069). That cause comes after PAUSED and STAGE_GATE (domain/gating.ts firstGate),
 * so it holds exactly when the stage is next in line and has something to run — the moment a release
 * manager can act on the message. Recorded in the pass's own transaction, right after its causes are written.
 *
 * Once per stage wait, across passes and replicas: the event's dedupe key is the stage and its latest
 * decision (`STAGE_APPROVAL_WAITING:<stage>:<decision id or 0>`), inserted with ON CONFLICT DO NOTHING. Later
 * runs of the same stage, a pause and resume, every later pass, or a second replica's pass (should the pass
 * lock ever fail) hit the same key; the unique index makes a concurrent second insert wait for the first and
 * then do nothing. A rejection is a new decision, so the next request for approval after it is announced again.
 */
export async function approvalWaitsRecord(
  trx: Db,
  p: { stages: readonly { stageId: string; role: string }[]; now: Date },
): Promise<number> {
  const held = new Map(p.stages.map((s) => [s.stageId, s.role]));
  if (held.size === 0) return 0;
  const stages = [...held.keys()];
  const { rows } = await sql<{ n: number }>`
    WITH st AS (
      SELECT u.stage_id, u.role FROM unnest(${stages}::bigint[], ${stages.map((id) => held.get(id)!)}::text[]) AS u(stage_id, role)
    ), due AS (
      SELECT s.id AS stage_id, s.rollout_id, s.position, ro.project_id, ro.created_by, st.role,
        coalesce(ep.approver_not_creator, false) AS not_creator,
        'STAGE_APPROVAL_WAITING:' || s.id || ':' || coalesce(last.id, 0) AS key,
        (SELECT count(*) FROM stage x WHERE x.rollout_id = s.rollout_id) AS stages
      FROM st JOIN stage s ON s.id = st.stage_id JOIN rollout ro ON ro.id = s.rollout_id
      LEFT JOIN environment_policy ep ON ep.project_id = ro.project_id AND ep.environment = s.environment
      LEFT JOIN LATERAL (SELECT a.id, a.decision FROM stage_approval a WHERE a.stage_id = s.id ORDER BY a.id DESC LIMIT 1) last ON true
      -- This statement reads committed state afresh: an approval that landed during the pass, or a
      -- rejection (which cancels the stage's PENDING runs), means there is nothing to wait for any more.
      WHERE last.decision IS DISTINCT FROM 'APPROVED'
        AND EXISTS (
          SELECT 1 FROM task t JOIN task_run r ON r.task_id = t.id AND r.status = 'PENDING'
          WHERE t.stage_id = s.id AND t.unfinished AND ${recordedCause("r")} ->> 'type' = 'APPROVAL_REQUIRED')
        AND EXISTS (${wanting(sql`ro.project_id`, sql`'STAGE_APPROVAL_WAITING'::text`)})
    ), ev AS (
      INSERT INTO webhook_event (project_id, kind, rollout_id, stage_id, facts, dedupe_key, created_at)
      SELECT project_id, 'STAGE_APPROVAL_WAITING', rollout_id, stage_id,
        jsonb_build_object('role', role, 'approverNotCreator', not_creator, 'createdBy', created_by,
          'position', position + 1, 'stages', stages),
        key, ${p.now}
      FROM due
      ON CONFLICT (dedupe_key) DO NOTHING
      RETURNING id, project_id, kind
    ), del AS (
      INSERT INTO webhook_delivery (event_id, webhook_id, next_attempt_at, created_at, retry_since)
      SELECT ev.id, w.id, ${p.now}, ${p.now}, ${p.now} FROM ev JOIN LATERAL (${wanting(sql`ev.project_id`, sql`ev.kind`)}) w ON true
      RETURNING 1
    )
    SELECT count(*)::int AS n, ${notifyDue(sql`del`)} AS notified FROM ev`.execute(trx);
  return rows[0]?.n ?? 0;
}
