import { describe, expect, it } from "vitest";
import { autoRetryDelayMs, decideAutoRetry, DEFAULT_RETRY_POLICY, type RetryPolicy } from "./auto-retry.js";

const now = new Date("2026-01-01T12:00:00Z");
const policy: RetryPolicy = { lockTimeoutMs: 500, maxAutoRetries: 3, backoffBaseMs: 1000, backoffMaxMs: 5000 };
const run = (p: Partial<{ transactional: boolean; autoRetries: number; policy: RetryPolicy }> = {}) => ({
  transactional: true,
  autoRetries: 0,
  policy,
  ...p,
});

describe("decideAutoRetry", () => {
  it.each([
    ["55P03", "lock timeout"],
    ["40P01", "deadlock"],
    ["40001", "serialization failure"],
  ])("retries %s (%s) after the backoff, saying which retry of how many", (code, what) => {
    const d = decideAutoRetry(run(), { code, message: "boom" }, now);
    expect(d).toEqual({
      kind: "retry",
      until: new Date(now.getTime() + 1000),
      attempt: 1,
      max: 3,
      reason: `${what} (${code}): automatic retry 1 of 3 at ${new Date(now.getTime() + 1000).toISOString()}: boom`,
    });
  });

  it("fails every other error, and any error of a non-transactional run", () => {
    for (const code of ["42P01", "23505", "57014", "22012", undefined])
      expect(decideAutoRetry(run(), { code, message: "x" }, now).kind).toBe("fail");
    expect(decideAutoRetry(run({ transactional: false }), { code: "55P03", message: "x" }, now)).toEqual({ kind: "fail" });
  });

  it("stops when the limit is used up, and says so", () => {
    expect(decideAutoRetry(run({ autoRetries: 2 }), { code: "40P01", message: "x" }, now)).toMatchObject({
      kind: "retry",
      attempt: 3,
      max: 3,
    });
    expect(decideAutoRetry(run({ autoRetries: 3 }), { code: "40P01", message: "x" }, now)).toEqual({
      kind: "fail",
      note: "deadlock; automatic retries used up (3 of 3)",
    });
    expect(decideAutoRetry(run({ policy: { ...policy, maxAutoRetries: 0 } }), { code: "55P03", message: "x" }, now)).toEqual({
      kind: "fail",
    });
  });

  it("backs off exponentially from the base, capped", () => {
    expect([1, 2, 3, 4, 5, 60].map((a) => autoRetryDelayMs(policy, a))).toEqual([1000, 2000, 4000, 5000, 5000, 5000]);
    expect(autoRetryDelayMs(DEFAULT_RETRY_POLICY, 10)).toBe(60_000);
    expect(autoRetryDelayMs({ backoffBaseMs: 0, backoffMaxMs: 100 }, 3)).toBe(0);
  });
});
