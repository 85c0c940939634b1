import { describe, expect, it, vi } from "vitest";
import { Batcher } from "./batcher.js";

describe("Batcher", () => {
  it("writes the first item at once and what arrives meanwhile in one batch, in order", async () => {
    const calls: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const b = new Batcher<number, number>(async (xs) => {
      calls.push(xs);
      if (calls.length === 1) await gate;
      return xs.map((x) => x * 10);
    });
    const first = b.push(1);
    const rest = [b.push(2), b.push(3), b.push(4)];
    release();
    expect(await first).toBe(10);
    expect(await Promise.all(rest)).toEqual([20, 30, 40]);
    expect(calls).toEqual([[1], [2, 3, 4]]);
  });

  it("a failed write rejects its batch only; later items still go", async () => {
    let n = 0;
    const b = new Batcher<number, number>(
      async (xs) => {
        if (n++ === 0) throw new Error("boom");
        return xs;
      },
      { maxBatch: 2 },
    );
    const a = b.push(1);
    const c = b.push(2);
    await expect(a).rejects.toThrow("boom");
    expect(await c).toBe(2);
  });
});

/** A Batcher whose write returns its items and records each batch. */
function recording(opts: ConstructorParameters<typeof Batcher<number, number>>[1]) {
  const calls: number[][] = [];
  const b = new Batcher<number, number>(async (xs) => {
    calls.push(xs);
    return xs;
  }, opts);
  return { b, calls };
}

describe("Batcher linger", () => {
  it("holds a batch back until enough items joined, without waiting out its time", async () => {
    // An hour: the test would time out if the batch waited for it.
    const { b, calls } = recording({ linger: () => ({ ms: 3_600_000, enough: 3 }) });
    expect(await Promise.all([b.push(1), b.push(2), b.push(3)])).toEqual([1, 2, 3]);
    expect(calls).toEqual([[1, 2, 3]]);
  });

  it("writes what it has once its time is up", async () => {
    const { b, calls } = recording({ linger: () => ({ ms: 5, enough: 10 }) });
    expect(await b.push(1)).toBe(1);
    expect(calls).toEqual([[1]]);
  });

  it("writes at once when linger says null", async () => {
    let asked = 0;
    const { b, calls } = recording({
      linger: (queued) => {
        asked = queued;
        return null;
      },
    });
    expect(await b.push(7)).toBe(7);
    expect(asked).toBe(1);
    expect(calls).toEqual([[7]]);
  });

  it("never writes an empty batch when another flush took the items a lingering one waited for", async () => {
    vi.useFakeTimers();
    try {
      const { b, calls } = recording({ maxInFlight: 2, linger: () => ({ ms: 1000, enough: 3 }) });
      // The first flush lingers; the second (maxInFlight 2) does not, since one batch lingers at a time.
      expect(await Promise.all([b.push(1), b.push(2)])).toEqual([1, 2]);
      await vi.runAllTimersAsync();
      expect(calls).toEqual([[1, 2]]);
    } finally {
      vi.useRealTimers();
    }
  });
});
