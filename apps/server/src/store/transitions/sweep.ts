import { sql } from "kysely";
import type { Db } from "../db.js";
import { transitionStatement } from "./builder.js";

/**
 * RUNNING runs whose lease expired: back to AVAILABLE when re-running is safe (the target's ledger makes
 * it a no-op if the statement did commit), otherwise FAILED (CANCELED when a cancel was requested). The
 * caller holds the sweep lock. The log entry names the owner that lost the run (`owner`).
 */
export async function taskRunsSweepExpired(db: Db, p: { now: Date; replicaId: string }): Promise<{ requeued: number; failed: number }> {
  const { rows } = await transitionStatement({
    inputs: sql`expired AS (
      SELECT id, owner_replica, rerunnable, cancel_requested_at IS NOT NULL AS cancel FROM task_run
      WHERE status = 'RUNNING' AND lease_expires_at < ${p.now}
      ORDER BY id FOR UPDATE SKIP LOCKED)`,
    steps: [{
      name: "sweep",
      sql: ({ guard, returning }) => sql`
        UPDATE task_run r SET
          status = CASE WHEN x.cancel THEN 'CANCELED' WHEN x.rerunnable THEN 'AVAILABLE' ELSE 'FAILED' END,
          owner_replica = NULL, lease_expires_at = NULL, updated_at = ${p.now},
          finished_at = CASE WHEN x.rerunnable AND NOT x.cancel THEN NULL ELSE ${p.now}::timestamptz END,
          result = CASE WHEN x.rerunnable OR x.cancel THEN r.result ELSE jsonb_build_object('error', jsonb_build_object(
            'message', 'owning replica stopped responding', 'replicaId', x.owner_replica)) END
        FROM expired x WHERE r.id = x.id AND ${guard}
        RETURNING ${returning},
          CASE WHEN r.status = 'AVAILABLE' THEN 'lease of replica ' || x.owner_replica || ' expired; run requeued'
               WHEN r.status = 'CANCELED' THEN 'lease of replica ' || x.owner_replica || ' expired while cancel was requested'
               ELSE 'owning replica stopped responding: ' || x.owner_replica END AS reason,
          jsonb_build_object('owner', x.owner_replica) AS detail`,
    }],
    now: p.now,
    replicaId: p.replicaId,
  }).execute(db);
  const changed = rows[0]!.changed;
  const requeued = changed.filter((r) => r.status === "AVAILABLE").length;
  return { requeued, failed: changed.length - requeued };
}
