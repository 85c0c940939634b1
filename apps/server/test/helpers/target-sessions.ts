import type { TargetDatabase } from "./db.js";

export interface TargetSession {
  pid: number;
  state: string | null;
  application_name: string;
  query: string;
}

/**
 * The target sessions working for run `runId` on `target`'s database (any installation, any epoch), as
 * the executor names them: `runway run <run id> in <installation tag> epoch <epoch> <replica>`. `and`
 * narrows further.
 */
export function runSessions(target: TargetDatabase, runId: string, and = "true"): Promise<TargetSession[]> {
  if (!/^\d+$/.test(runId)) throw new Error(`bad run id ${runId}`);
  return target.query<TargetSession>(
    `SELECT pid, state, application_name, query FROM pg_stat_activity
     WHERE datname = current_database() AND application_name ~ '^runway run ${runId} in [0-9a-f]{10} epoch ' AND (${and})`,
  );
}
