import { ApiError, ErrorCode } from "../plugins/app/api-error.js";
import type { Db } from "../store/db.js";
import { checksPolicyRefusals } from "../store/task-checks.js";

const WHY: Record<string, string> = {
  LINT_ERRORS: "has lint errors",
  DRY_RUN_REQUIRED: "has no passing dry run",
  DRY_RUN_FAILED: "failed its dry run",
};

/** Tasks named in one refusal message; details list them all. */
const MAX_NAMED = 20;

/**
 * Refuses a run request (409 CHECKS_FAILED) when the project's check policy refuses any of its tasks,
 * naming each task and its failing checks. Read before the run is created: a check that changes between
 * this read and the insert is the same race as a user clicking a moment earlier.
 */
export async function refuseFailingChecks(db: Db, rolloutId: string, taskIds: string[]): Promise<void> {
  const refused = await checksPolicyRefusals(db, { rolloutId, taskIds });
  if (refused.length === 0) return;
  const named = refused.slice(0, MAX_NAMED).map((t) => `task ${t.taskId} ${t.failing.map((f) => WHY[f] ?? f).join(" and ")}`);
  const more = refused.length > MAX_NAMED ? `; and ${refused.length - MAX_NAMED} more` : "";
  throw new ApiError(
    409,
    ErrorCode.CHECKS_FAILED,
    `the project's check policy refuses ${refused.length} task(s): ${named.join("; ")}${more}. An admin may override a task with a reason.`,
    { tasks: refused },
  );
}
