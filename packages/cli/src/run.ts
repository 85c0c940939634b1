import type { RunResults, TaskList } from "@runway/shared/schemas";
import type { Client } from "./client.js";
import type { Output } from "./output.js";

/** The run endpoint takes at most this many task ids per request. */
const BATCH = 1000;

/** `runway rollout run`: runs every task not started yet (FAILED/CANCELED ones too with --retry). */
export async function runRollout(client: Client, rolloutId: string, o: { retry?: boolean }, out: Output): Promise<number> {
  const statuses = ["NOT_STARTED", ...(o.retry ? ["FAILED", "CANCELED"] : [])];
  const ids: string[] = [];
  let token: string | null = null;
  do {
    const q = new URLSearchParams(statuses.map((s) => ["status", s]));
    q.set("pageSize", "1000");
    if (token) q.set("pageToken", token);
    const page: TaskList = await client.get<TaskList>(`/rollouts/${rolloutId}/tasks?${q}`);
    ids.push(...page.tasks.map((t) => t.id));
    token = page.nextPageToken;
  } while (token);
  const results: RunResults["results"] = [];
  for (let i = 0; i < ids.length; i += BATCH) {
    const r = await client.post<RunResults>(`/rollouts/${rolloutId}/tasks/run`, { taskIds: ids.slice(i, i + BATCH) });
    results.push(...r.body.results);
  }
  const started = results.filter((r) => r.taskRunId).length;
  out.info(`rollout ${rolloutId}: ${started} task(s) started, ${results.length - started} not (already active, done or skipped)`);
  out.result({ rolloutId, started, results }, String(started));
  return 0;
}
