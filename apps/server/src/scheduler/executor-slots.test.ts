import { describe, expect, it } from "vitest";
import { claimAheadOf, ExecutorSlots } from "./executor-slots.js";

describe("executor slots", () => {
  it("claims ahead only while the runs' moving mean is quick, and not before any run ended", () => {
    const p = { ahead: 8, quickRunMs: 50 };
    expect(claimAheadOf(null, p)).toBe(0);
    expect(claimAheadOf(3, p)).toBe(8);
    expect(claimAheadOf(50, p)).toBe(8);
    expect(claimAheadOf(51, p)).toBe(0);
    expect(claimAheadOf(3, { ahead: 0, quickRunMs: 50 })).toBe(0);
  });

  it("one slow run among quick ones stops claiming ahead at once", async () => {
    const slots = new ExecutorSlots(1, { ahead: 4, quickRunMs: 50 });
    const signal = new AbortController().signal;
    const run = async (ms: number) => {
      expect(await slots.acquire(signal)).toBe(true);
      slots.release(ms);
    };
    await run(2);
    expect(slots.ahead()).toBe(4);
    await run(5_000);
    expect(slots.ahead()).toBe(0);
  });

  it("hands freed slots to waiters in claim order; an aborted waiter leaves without taking one", async () => {
    const slots = new ExecutorSlots(1, { ahead: 2, quickRunMs: 50 });
    const never = new AbortController();
    expect(await slots.acquire(never.signal)).toBe(true);
    const gone = new AbortController();
    const order: string[] = [];
    const a = slots.acquire(gone.signal).then((ok) => order.push(`a:${ok}`));
    const b = slots.acquire(never.signal).then((ok) => order.push(`b:${ok}`));
    gone.abort();
    await a;
    slots.release(1);
    await b;
    expect(order).toEqual(["a:false", "b:true"]);
    // b holds the only slot: the next waiter waits.
    let c = false;
    void slots.acquire(never.signal).then(() => (c = true));
    await Promise.resolve();
    expect(c).toBe(false);
    slots.release(1);
    await Promise.resolve();
    expect(c).toBe(true);
  });
});
