import { ApiError } from "@/api/http";

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

/**
 * An error as a sentence in the user's language: the API's stable code picks the sentence, never its
 * English message (which names routes and ids and is for logs and scripts). Unknown errors say so generically.
 */
export function apiErrorText(t: Translate, err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === "NETWORK") return t("error.network");
    if (err.code === "PERMISSION_DENIED" || err.status === 403) return t("error.forbidden");
    if (KNOWN.has(err.code)) return t(`trust.apiError.${err.code}`);
    return t("trust.apiError.INTERNAL");
  }
  return t("trust.apiError.INTERNAL");
}
