import { ApiError, NETWORK, TIMEOUT } from "@/api/http";

type Translate = (key: string, values?: Record<string, unknown>) => string;

/** Codes the API sends (apps/server/src/plugins/app/api-error.ts) that have a sentence of their own. */
const KNOWN = new Set([
  "INVALID_ARGUMENT",
  "UNAUTHENTICATED",
  "NOT_FOUND",
  "FAILED_PRECONDITION",
  "CONFLICT",
  "PAYLOAD_TOO_LARGE",
  "RATE_LIMITED",
  "TARGET_REFUSED",
  "INTERNAL",
  "UNAVAILABLE",
]);
/** Codes added later, translated under the `stale` namespace. */
const MORE = new Set(["RUN_NOT_RUNNING", "TARGET_UNREACHABLE", "CHECKS_FAILED"]);

/** The locale key of the sentence for an error (exported for tests and for callers that pass their own values). */
export function apiErrorKey(err: unknown): string {
  if (!(err instanceof ApiError)) return "trust.apiError.INTERNAL";
  if (err.code === NETWORK) return "stale.error.network";
  if (err.code === TIMEOUT) return "stale.error.timeout";
  if (err.code === "PERMISSION_DENIED" || err.status === 403) return "error.forbidden";
  if (KNOWN.has(err.code)) return `trust.apiError.${err.code}`;
  if (MORE.has(err.code)) return `stale.error.${err.code}`;
  // No JSON from us: a proxy or load balancer in front answered for a server that is down or restarting.
  if (err.status === 502 || err.status === 504) return "stale.error.network";
  if (err.status === 503) return "trust.apiError.UNAVAILABLE";
  if (err.status === 404) return "trust.apiError.NOT_FOUND";
  return "trust.apiError.INTERNAL";
}

/**
 * An error as a sentence in the user's language: the API's stable code picks the sentence, never its
 * English message (which names routes and ids and is for logs and scripts), nor the browser's ("Failed
 * to fetch"). Unknown errors say so generically.
 */
export function apiErrorText(t: Translate, err: unknown): string {
  // Not from the API at all (a file that would not read, a bug): say what it was.
  if (!(err instanceof ApiError) && err instanceof Error) return t("error.generic", { message: err.message });
  return t(apiErrorKey(err));
}

/** Sign-in has sentences of its own: a 401 there means a wrong password, not an ended session. */
export function signInErrorText(t: Translate, err: unknown): string {
  if (err instanceof ApiError && err.code === "UNAUTHENTICATED") return t("stale.login.wrongPassword");
  if (err instanceof ApiError) return t("stale.login.failed", { reason: apiErrorText(t, err) });
  return t("stale.login.sessionNotKept");
}

/** Whether an error means the thing named in the URL does not exist. */
export const isNotFound = (err: unknown): boolean => err instanceof ApiError && err.status === 404;
