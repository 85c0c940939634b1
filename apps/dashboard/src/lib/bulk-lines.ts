import type { BulkResults } from "@/api/types";
import type { ConfirmLine } from "./task-actions";

/**
 * The confirmation's lines from the server's own count (a dry run of the action, asked when the dialog
 * opens and again on confirm), never from the rows on screen, which may be seconds old.
 */
export function bulkLines(action: string, r: BulkResults, scheduled = false): ConfirmLine[] {
  const lines: ConfirmLine[] = [];
  const changing = r.results.filter((x) => x.result === "CHANGED");
  if (action === "cancel") {
    const running = changing.filter((x) => x.cancelRequested).length;
    const waiting = changing.length - running;
    if (waiting > 0) lines.push({ key: "confirm.cancelWaiting", count: waiting });
    if (running > 0) lines.push({ key: "confirm.cancelRunning", count: running });
  } else if (changing.length > 0) {
    const key = action === "run" && scheduled ? "confirm.schedule" : `confirm.${action}`;
    lines.push({ key, count: changing.length });
  }
  const unchanged = r.counts.ALREADY + r.counts.NOT_ALLOWED;
  if (unchanged > 0) lines.push({ key: "confirm.ineligible", count: unchanged });
  return lines;
}

/** Whether two counts of the same action differ in what would change. */
export function countsDiffer(a: BulkResults, b: BulkResults): boolean {
  const key = (r: BulkResults) =>
    r.results
      .filter((x) => x.result === "CHANGED")
      .map((x) => `${x.taskId}:${x.cancelRequested ? 1 : 0}`)
      .join(",");
  return key(a) !== key(b);
}
