import { describe, expect, it } from "vitest";
import { messageAt, messages } from "@runway/shared/locales";
import { ApiError } from "@/api/http";
import { apiErrorKey, apiErrorText, isNotFound, signInErrorText } from "./api-error-text";

const echo = (key: string, values?: Record<string, unknown>) => (values ? `${key} ${JSON.stringify(values)}` : key);
const has = (key: string) => Object.values(messages).every((m) => messageAt(m, key));

describe("api error text", () => {
  it("network failures and timeouts have sentences of their own, never the browser's words", () => {
    expect(apiErrorText(echo, new ApiError(0, "NETWORK", "Failed to fetch"))).toBe("stale.error.network");
    expect(apiErrorText(echo, new ApiError(0, "TIMEOUT", "no answer"))).toBe("stale.error.timeout");
  });

  it("a 403 is the translated sentence, never the route in the message", () => {
    const text = apiErrorText(echo, new ApiError(403, "PERMISSION_DENIED", "POST /api/v1/rollouts/:rolloutId/tasks/bulk needs releaser"));
    expect(text).toBe("error.forbidden");
  });

  it("maps each code the API sends; a proxy's bare 502/503/504 reads as unreachable or unavailable", () => {
    expect(apiErrorKey(new ApiError(404, "NOT_FOUND", "x"))).toBe("trust.apiError.NOT_FOUND");
    expect(apiErrorKey(new ApiError(409, "CHECKS_FAILED", "x"))).toBe("stale.error.CHECKS_FAILED");
    expect(apiErrorKey(new ApiError(502, "HTTP_502", "Bad Gateway"))).toBe("stale.error.network");
    expect(apiErrorKey(new ApiError(504, "HTTP_504", "Gateway Timeout"))).toBe("stale.error.network");
    expect(apiErrorKey(new ApiError(503, "HTTP_503", "Service Unavailable"))).toBe("trust.apiError.UNAVAILABLE");
    expect(apiErrorKey(new ApiError(418, "TEAPOT", "x"))).toBe("trust.apiError.INTERNAL");
  });

  it("every key it can give exists in all four locales", () => {
    const codes = [
      "NETWORK",
      "TIMEOUT",
      "PERMISSION_DENIED",
      "NOT_FOUND",
      "UNAVAILABLE",
      "RUN_NOT_RUNNING",
      "TARGET_UNREACHABLE",
      "CHECKS_FAILED",
      "X",
    ];
    for (const code of codes) expect(has(apiErrorKey(new ApiError(400, code, ""))), code).toBeTruthy();
    for (const k of ["stale.login.wrongPassword", "stale.login.failed", "stale.login.sessionNotKept"]) expect(has(k), k).toBeTruthy();
  });

  it("a wrong password at sign-in is its own sentence (not 'your session ended')", () => {
    expect(signInErrorText(echo, new ApiError(401, "UNAUTHENTICATED", "wrong username or password"))).toBe("stale.login.wrongPassword");
    expect(signInErrorText(echo, new ApiError(429, "RATE_LIMITED", "x"))).toBe(
      `stale.login.failed ${JSON.stringify({ reason: "trust.apiError.RATE_LIMITED" })}`,
    );
    expect(signInErrorText(echo, new Error("session not kept"))).toBe("stale.login.sessionNotKept");
  });

  it("tells a not-found apart", () => {
    expect(isNotFound(new ApiError(404, "NOT_FOUND", ""))).toBe(true);
    expect(isNotFound(new ApiError(0, "NETWORK", ""))).toBe(false);
    expect(isNotFound(new Error("x"))).toBe(false);
  });
});
