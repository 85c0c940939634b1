import { sql } from "kysely";
import { prepared, type Db } from "../db.js";
import { transitionStatement } from "./builder.js";

/** The pending scheduler's transitions. The pass holds its lock (see PassLock) around both. */

/**
 * PENDING → AVAILABLE (compare-and-set on status). Returns the runs promoted: a run canceled since the
 * pass read it is not, and must not count against any gate.
 */
export async function gatingPromote(trx: Db, runIds: string[], now: Date, replicaId: string): Promise<Set<string>> {
  if (runIds.length === 0) return new Set();
  // On the pickup path of every run a gate held: one text whatever the count (an array parameter), so
  // parsed and planned once per connection.
  const { rows } = await prepared(
    transitionStatement({
      steps: [
        {
          name: "promote",
          sql: ({ guard, returning }) => sql`
        UPDATE task_run r SET status = 'AVAILABLE', updated_at = ${now}
        WHERE r.id = ANY(${runIds}::bigint[]) AND ${guard}
        RETURNING ${returning}, 'all gates passed' AS reason, NULL::jsonb AS detail`,
        },
      ],
      now,
      replicaId,
    }),
  ).execute(trx);
  return new Set(rows[0]!.changed.map((c) => c.id));
}

/** PENDING → FAILED for runs that can never run (project or instance deleted), the reason in the result. */
export async function gatingFailOrphans(trx: Db, fails: { runId: string; reason: string }[], now: Date, replicaId: string): Promise<void> {
  if (fails.length === 0) return;
  await transitionStatement({
    steps: [
      {
        name: "failOrphan",
        sql: ({ guard, returning }) => sql`
        UPDATE task_run r SET status = 'FAILED', finished_at = ${now}, updated_at = ${now},
          result = jsonb_build_object('error', jsonb_build_object('message', c.reason))
        FROM unnest(${fails.map((f) => f.runId)}::bigint[], ${fails.map((f) => f.reason)}::text[]) AS c(id, reason)
        WHERE r.id = c.id AND ${guard}
        RETURNING ${returning}, c.reason AS reason, NULL::jsonb AS detail`,
      },
    ],
    now,
    replicaId,
  }).execute(trx);
}
