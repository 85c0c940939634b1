import type { LogEvent } from "@runway/shared/schemas";

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const int = (v: unknown): number | null => (typeof v === "number" && Number.isInteger(v) ? v : null);

/**
 * A log entry's structured event, read from its stored payload: STATUS entries written by a transition
 * (`{from, to, by, replica, epoch, reason}`, store/transitions/builder.ts), a cancel request, a lost owner.
 * Null for entries older than structured payloads (only `message`) and for executor notes, which clients
 * show as their English message.
 */
export function logEventOf(type: string, payload: Record<string, unknown>): LogEvent | null {
  if (type === "STATUS" && typeof payload.to === "string" && typeof payload.by === "string") {
    return {
      from: str(payload.from),
      to: payload.to,
      by: payload.by,
      user: str(payload.user),
      replica: str(payload.replica),
      epoch: int(payload.epoch),
      reason: str(payload.reason),
    };
  }
  if (type === "CANCEL_REQUESTED" && typeof payload.user === "string") {
    return { from: null, to: null, by: "api", user: payload.user, replica: null, epoch: null, reason: null };
  }
  if (type === "OWNER_LOST" && typeof payload.by === "string") {
    return {
      from: null,
      to: null,
      by: payload.by,
      user: null,
      replica: str(payload.owner),
      epoch: int(payload.epoch),
      reason: str(payload.error),
    };
  }
  return null;
}
