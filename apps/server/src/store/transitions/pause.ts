import { sql } from "kysely";
import type { Db } from "../db.js";
import { transitionStatement } from "./builder.js";

/**
 * AVAILABLE → PENDING for a rollout that was just paused (in the same transaction, so no claim can take a
 * run after the pause commits: the claim's guard reads rollout_pause). A compare-and-set on status: a run
 * claimed meanwhile is RUNNING and finishes. `pause` by the API, `trip` by the circuit breaker's pass.
 */
export async function taskRunsUnpromote(
  trx: Db,
  p: { rolloutIds: string[]; name: "pause" | "trip"; reason: string; now: Date; replicaId: string | null },
): Promise<number> {
  if (p.rolloutIds.length === 0) return 0;
  const { rows } = await transitionStatement({
    steps: [
      {
        name: p.name,
        sql: ({ guard, returning }) => sql`
        UPDATE task_run r SET status = 'PENDING', updated_at = ${p.now}
        WHERE r.rollout_id = ANY(${p.rolloutIds}::bigint[]) AND r.status = 'AVAILABLE' AND ${guard}
        RETURNING ${returning}, ${p.reason}::text AS reason, NULL::jsonb AS detail`,
      },
    ],
    // A count, not the `changed` list: a pause may put back thousands of runs.
    extra: (rel) => sql`(SELECT count(*)::int FROM ${rel(0)}) AS unpromoted`,
    listChanged: false,
    now: p.now,
    replicaId: p.replicaId,
  }).execute(trx);
  return (rows[0] as unknown as { unpromoted: number }).unpromoted;
}
