import { describe, expect, it } from "vitest";
import { claimAheadOf, ExecutorSlots, type Slot } from "./executor-slots.js";

const taken = (x: Slot | "aborted" | "late"): Slot => {
  if (typeof x === "string") throw new Error(`no slot: ${x}`);
  return x;
};

describe("executor slots", () => {
  it("claims ahead only while runs are quick — those ended and those executing — and not before any run ended", () => {
    const p = { ahead: 8, quickRunMs: 50 };
    expect(claimAheadOf(null, 0, p)).toBe(0);
    expect(claimAheadOf(3, 0, p)).toBe(8);
    expect(claimAheadOf(50, 50, p)).toBe(8);
    expect(claimAheadOf(51, 0, p)).toBe(0);
    // A run executing for longer than a quick run stops it before that run ends.
    expect(claimAheadOf(3, 51, p)).toBe(0);
    expect(claimAheadOf(3, 0, { ahead: 0, quickRunMs: 50 })).toBe(0);
  });

  it("hands freed slots to waiters in claim order; an aborted waiter leaves without taking one", async () => {
    const slots = new ExecutorSlots(1, { ahead: 2, quickRunMs: 10_000 });
    const never = new AbortController();
    const first = taken(await slots.acquire(never.signal));
    const gone = new AbortController();
    const order: string[] = [];
    const a = slots.acquire(gone.signal).then((s) => order.push(`a:${typeof s === "string" ? s : "slot"}`));
    const b = slots.acquire(never.signal);
    gone.abort();
    await a;
    slots.release(first);
    const second = taken(await b);
    expect(order).toEqual(["a:aborted"]);
    // b holds the only slot: the next waiter waits until it is released.
    let c: Slot | "aborted" | "late" | undefined;
    void slots.acquire(never.signal).then((s) => (c = s));
    await Promise.resolve();
    expect(c).toBeUndefined();
    slots.release(second);
    await Promise.resolve();
    expect(typeof c).toBe("object");
  });

  it("a waiter no slot frees for within four quick runs is told it is late", async () => {
    const slots = new ExecutorSlots(1, { ahead: 2, quickRunMs: 5 });
    const signal = new AbortController().signal;
    const held = taken(await slots.acquire(signal));
    expect(await slots.acquire(signal)).toBe("late");
    // The slot is still the first run's; once released it goes to the next waiter, not to the late one.
    const next = slots.acquire(signal);
    slots.release(held);
    expect(typeof (await next)).toBe("object");
    // The first run took longer than a quick run: no more claiming ahead.
    expect(slots.ahead()).toBe(0);
  });
});
