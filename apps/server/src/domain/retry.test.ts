import { describe, expect, it } from "vitest";
import { attemptsWithin, decideRetry } from "./retry.js";

const outcome = { message: "connect ECONNRESET", result: { error: { message: "connect ECONNRESET" } } };
const t0 = new Date("2026-12-01T10:00:00Z");
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const run = (retryAttempts: number) => ({ rerunnable: true, retrySince: retryAttempts ? t0 : null, retryAttempts });

describe("decideRetry", () => {
  it("counts the attempts the backoff makes in a window", () => {
    expect(attemptsWithin(0)).toBe(0); // no window: the first failure fails
    expect(attemptsWithin(10_000)).toBe(4); // 0, 1, 3, 7 s
    expect(attemptsWithin(20_000)).toBe(5); // … 15 s
    expect(attemptsWithin(600_000)).toBe(15); // … 63, 123, 183 … 543 s (capped at 60 s apart)
  });

  it("fails a target down all along at the first attempt after the window, as the schedule spaces them", () => {
    const times = [0, 1, 3, 7, 15];
    times.forEach((s, i) => expect(decideRetry(run(i), outcome, at(s), 20_000).kind).toBe("retry"));
    const last = decideRetry(run(5), outcome, at(31), 20_000);
    expect(last).toMatchObject({ kind: "fail", message: expect.stringMatching(/^target unreachable for 31 s \(6 attempts/) });
  });

  it("does not fail a run that waited on other gates between two attempts: time alone is no evidence", () => {
    // Seen in the chaos long run: one failure, 54 s held behind a busy database, one reset.
    expect(decideRetry(run(1), outcome, at(54), 20_000)).toMatchObject({ kind: "retry", retryAt: at(56) });
  });

  it("with no window the first failure fails, and a statement that may have started is settled", () => {
    expect(decideRetry(run(0), outcome, t0, 0).kind).toBe("fail");
    expect(decideRetry({ ...run(0), rerunnable: false }, outcome, t0, 20_000).kind).toBe("settle");
  });
});
