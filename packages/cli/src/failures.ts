import type { FailureGroups, TaskList } from "@runway/shared/schemas";
import type { Client } from "./client.js";

/** At most this many failed tasks are named one a line; the groups count them all. */
const NAMED = 10;

/** A rollout's failures as read from the API: its groups and its first failed tasks. */
export interface Failures {
  groups: FailureGroups;
  failed: TaskList;
}

/**
 * Pure: what a CI log says of a rollout that failed, so that nobody has to open the dashboard to learn
 * which database failed and why: the failures grouped by error code (biggest first, each with one of its
 * messages), then the first failed tasks one a line, then where to see them all.
 */
export function failureLines({ groups, failed }: Failures, failedCount: number, rolloutUrl: string): string[] {
  const lines = groups.groups.map((g) => `  ${g.count} × ${g.errorCode === "none" ? "(no SQLSTATE)" : g.errorCode}: ${oneLine(g.message)}`);
  for (const t of failed.tasks.slice(0, NAMED)) {
    const error = t.latestRun?.result?.error;
    const what = t.schemaVersion ? `version ${t.schemaVersion}` : t.type;
    const why = error ? `${error.code ? `${error.code} ` : ""}${oneLine(error.message)}` : "no error recorded";
    lines.push(`  ✗ task #${t.id} ${t.instanceId}/${t.database} (${what}): ${why}`);
  }
  const named = Math.min(failed.tasks.length, NAMED);
  if (failedCount > named) lines.push(`  … and ${failedCount - named} more failed task(s)`);
  lines.push(`  see ${rolloutUrl}`);
  return lines;
}

/** A message on one line, and not a screenful: a PostgreSQL error may quote a long statement. */
const oneLine = (s: string) => {
  const flat = s.replace(/\s+/g, " ").trim();
  return flat.length > 200 ? `${flat.slice(0, 199)}…` : flat;
};

/** Reads the rollout's failures; null when they cannot be read (the verdict stands without them). */
export async function readFailures(client: Client, rolloutId: string): Promise<Failures | null> {
  try {
    const [groups, failed] = await Promise.all([
      client.get<FailureGroups>(`/rollouts/${rolloutId}/tasks/failure-groups?status=FAILED`),
      client.get<TaskList>(`/rollouts/${rolloutId}/tasks?status=FAILED&pageSize=${NAMED}`),
    ]);
    return { groups, failed };
  } catch {
    return null;
  }
}

/** Pure: the failures as --json's last line carries them (machine-readable: codes, ids, databases). */
export const failuresJson = (f: Failures) => ({
  groups: f.groups.groups,
  tasks: f.failed.tasks.map((t) => ({
    taskId: t.id,
    instanceId: t.instanceId,
    database: t.database,
    schemaVersion: t.schemaVersion,
    error: t.latestRun?.result?.error ?? null,
  })),
});
