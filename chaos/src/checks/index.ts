import type { CheckResult } from "../facts.js";
import type { CheckContext } from "./context.js";
import { checkNoLoss, checkNoRepeat } from "./outcomes.js";
import { checkFencing, checkRecovery } from "./ownership.js";
import { checkExclusion, checkParallelLimit, checkRunAt, checkVersionOrder } from "./timeline.js";
import { checkNoEarlyGate } from "./gate.js";
import { checkNoStuckRun } from "./stuck.js";
import { checkWebhooks } from "./webhooks.js";

export { CheckContext } from "./context.js";

/** The seven invariants of issue 5, the two of issue 10 (no stuck run, no gate freed early), the run-at gate, and webhook delivery (issue 18). */
export function runChecks(c: CheckContext): CheckResult[] {
  return [
    checkNoLoss,
    checkNoRepeat,
    checkExclusion,
    checkParallelLimit,
    checkVersionOrder,
    checkFencing,
    checkRecovery,
    checkNoStuckRun,
    checkNoEarlyGate,
    checkRunAt,
    checkWebhooks,
  ].map((check) => {
    try {
      return check(c);
    } catch (e) {
      return { name: check.name, ok: false, detail: "the check itself failed", violations: [String((e as Error).stack ?? e)] };
    }
  });
}
