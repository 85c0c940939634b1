import type { LogEntry } from "@/api/types";

export type LogTone = "error" | "success" | "warning" | "default";

/**
 * A log entry as the drawer shows it: a translation key and its parameters, or — for entries without a
 * structured event (older ones, executor notes) — the server's English message as it is.
 */
export type LogLine = { key: string; params: Record<string, string | number>; tone: LogTone } | { text: string; tone: LogTone };

const RUN_STATUSES = new Set(["PENDING", "AVAILABLE", "RUNNING", "DONE", "FAILED", "CANCELED"]);

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | null => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : null);
const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** The PostgreSQL error of a failure: the run's result as the log entry kept it, else the transition's reason. */
function failure(data: Obj, reason: string | null): LogLine {
  const err = obj(obj(data.result)?.error);
  const message = str(err?.message) ?? reason ?? "";
  const code = str(err?.code);
  return code
    ? { key: "drawer.event.failedCode", params: { error: message, code }, tone: "error" }
    : { key: "drawer.event.failed", params: { error: message }, tone: "error" };
}

/**
 * Renders one log entry from its structured event (issue 14 point 4). `time` formats an ISO time for the
 * reader (retry times). Pure: the component translates the key.
 */
export function logLine(entry: LogEntry, time: (iso: string) => string): LogLine {
  const e = entry.event;
  const fallback: LogLine = { text: entry.message, tone: /fail|error/i.test(entry.type) ? "error" : "default" };
  const data = entry.data;
  // The executor's note that the target's ledger had the change (no event): by another task, or an earlier attempt.
  if (entry.type === "LEDGER_HIT") {
    const task = str(data?.byTask);
    return task
      ? { key: "drawer.event.ledgerHitBy", params: { task }, tone: "default" }
      : { key: "drawer.event.ledgerHit", params: {}, tone: "default" };
  }
  if (!e) return fallback;
  if (entry.type === "CANCEL_REQUESTED") return { key: "drawer.event.cancelRequested", params: { user: e.user ?? "" }, tone: "warning" };
  if (entry.type === "OWNER_LOST")
    return { key: "drawer.event.ownerLost", params: { replica: e.replica ?? "", error: e.reason ?? "" }, tone: "warning" };
  if (entry.type !== "STATUS" || !e.to || !RUN_STATUSES.has(e.to)) return fallback;

  const { from, to, by, user, replica, epoch, reason } = e;
  if (from === null) {
    // Created RUNNING: the replica that served the request had a free slot and claimed it in the create.
    if (to === "RUNNING")
      return {
        key: "drawer.event.createdClaimed",
        params: { user: user ?? "", replica: replica ?? "", epoch: epoch ?? 0 },
        tone: "default",
      };
    if (by === "pending-scheduler") return { key: "drawer.event.createdAuto", params: {}, tone: "default" };
    const runAt = str(data.runAt);
    if (runAt) return { key: "drawer.event.scheduled", params: { user: user ?? "", time: time(runAt) }, tone: "default" };
    return user ? { key: "drawer.event.created", params: { user }, tone: "default" } : fallback;
  }
  switch (to) {
    case "RUNNING":
      // Promoted and claimed in one statement, by a live pass for its own replica.
      if (from === "PENDING")
        return { key: "drawer.event.promotedClaimed", params: { replica: replica ?? "", epoch: epoch ?? 0 }, tone: "default" };
      return { key: "drawer.event.claimed", params: { replica: replica ?? "", epoch: epoch ?? 0 }, tone: "default" };
    case "DONE": {
      if (by === "sweeper") return { key: "drawer.event.doneConfirmed", params: {}, tone: "success" };
      const result = obj(data.result);
      // The target's ledger had the change (a re-run, or another task's run of the same version): nothing ran.
      if (result?.alreadyApplied === true) {
        const task = str(result.byTask);
        return task
          ? { key: "drawer.event.doneAppliedBy", params: { task }, tone: "success" }
          : { key: "drawer.event.doneApplied", params: {}, tone: "success" };
      }
      const rows = num(result?.rowsAffected);
      const ms = num(result?.durationMs);
      // Applied, with something the reader must know (e.g. the target's ledger lacks the row).
      const note = str(result?.note);
      if (rows !== null && ms !== null && note)
        return { key: "drawer.event.doneNote", params: { rows, ms: Math.round(ms), note }, tone: "warning" };
      return rows !== null && ms !== null
        ? { key: "drawer.event.doneRows", params: { rows, ms: Math.round(ms) }, tone: "success" }
        : { key: "drawer.event.done", params: {}, tone: "success" };
    }
    case "FAILED":
      return failure(data, reason);
    case "CANCELED":
      return user
        ? { key: "drawer.event.canceledBy", params: { user }, tone: "default" }
        : { key: "drawer.event.canceled", params: {}, tone: "default" };
    case "AVAILABLE":
      if (from === "PENDING") return { key: "drawer.event.promoted", params: {}, tone: "default" };
      if (by === "drain") return { key: "drawer.event.released", params: { replica: replica ?? "" }, tone: "warning" };
      if (by === "sweeper") return { key: "drawer.event.swept", params: { replica: str(data.owner) ?? "" }, tone: "warning" };
      return { key: "drawer.event.requeued", params: {}, tone: "warning" };
    case "PENDING": {
      if (from === "AVAILABLE")
        return by === "pending-scheduler"
          ? { key: "drawer.event.tripped", params: {}, tone: "warning" }
          : { key: "drawer.event.paused", params: {}, tone: "warning" };
      const auto = obj(data.autoRetry);
      if (auto)
        return {
          key: "drawer.event.autoRetry",
          params: { attempt: num(auto.attempt) ?? 0, max: num(auto.max) ?? 0, time: time(str(auto.until) ?? ""), error: reason ?? "" },
          tone: "warning",
        };
      const retryAt = str(data.retryAt);
      if (retryAt) return { key: "drawer.event.retryUnreachable", params: { time: time(retryAt) }, tone: "warning" };
      return fallback;
    }
    default:
      return fallback;
  }
}
