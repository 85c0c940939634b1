import { afterEach, describe, expect, it, vi } from "vitest";
import type { Db } from "../store/db.js";
import type { ClaimedRun } from "../store/runs.js";
import { execContext, type OwnerState } from "./exec-context.js";
import { leaseOwnership } from "./ownership.js";

/**
 * The lease check sent with the statement (ExecContext.ownerCheckAhead): its answer stands for the check
 * before COMMIT only while the statement returned within aheadMs of it; otherwise, or when it failed, the
 * check is made again, as after the statement before.
 */
function harness(answers: (OwnerState | Error)[], claimedAt?: number) {
  let now = 0;
  let aborted = false;
  let canceled = 0;
  const asked: number[] = [];
  const ctx = execContext({
    db: {} as Db,
    clock: { now: () => new Date() },
    replicaId: "A",
    run: { id: "1", epoch: 1 } as ClaimedRun,
    signal: new AbortController().signal,
    ownership: leaseOwnership,
    aborted: () => aborted,
    checkOwner: async () => {
      asked.push(now);
      const a = answers.shift() ?? "owned";
      if (a instanceof Error) throw a;
      return a;
    },
    aheadMs: 300,
    monotonic: () => now,
    ...(claimedAt !== undefined ? { claimedAt } : {}),
    onCanceled: () => canceled++,
  });
  return {
    ctx,
    asked,
    canceled: () => canceled,
    advance: (ms: number) => (now += ms),
    abort: () => (aborted = true),
  };
}

describe("ownerCheckAhead", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sends the check at once; a statement back within aheadMs commits on its answer, with no second check", async () => {
    const h = harness(["owned"]);
    const confirm = h.ctx.ownerCheckAhead!();
    expect(h.asked).toEqual([0]);
    h.advance(300);
    expect(await confirm()).toBe(true);
    expect(h.asked).toEqual([0]);
  });

  it("a statement slower than aheadMs is checked again when it returned: a cancel recorded meanwhile wins", async () => {
    const h = harness(["owned", "canceled"]);
    const confirm = h.ctx.ownerCheckAhead!();
    h.advance(301);
    expect(await confirm()).toBe(false);
    expect(h.asked).toEqual([0, 301]);
    expect(h.canceled()).toBe(1);
  });

  it("a lost lease or a recorded cancel in the early answer stops the commit", async () => {
    const lost = harness(["lost"]);
    expect(await lost.ctx.ownerCheckAhead!()()).toBe(false);
    const canceled = harness(["canceled"]);
    expect(await canceled.ctx.ownerCheckAhead!()()).toBe(false);
    expect(canceled.canceled()).toBe(1);
    expect([lost.asked, canceled.asked]).toEqual([[0], [0]]);
  });

  it("an execution aborted after the check went out (a cancel's NOTIFY, a lost lease, a shutdown) does not commit", async () => {
    const h = harness(["owned"]);
    const confirm = h.ctx.ownerCheckAhead!();
    h.abort();
    expect(await confirm()).toBe(false);
  });

  it("a check sent ahead that found the row locked stops asking once its answer cannot stand", async () => {
    vi.useFakeTimers();
    const h = harness(["locked", "owned"]);
    const confirm = h.ctx.ownerCheckAhead!();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.asked).toEqual([0]); // locked: it would ask again after its backoff (50 ms)
    h.advance(301);
    expect(await confirm()).toBe(true);
    expect(h.asked).toEqual([0, 301]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.asked).toEqual([0, 301]);
  });

  it("a check that failed is made again; an answer nobody asks for is no unhandled rejection", async () => {
    const h = harness([new Error("control database unreachable"), "owned"]);
    const confirm = h.ctx.ownerCheckAhead!();
    expect(await confirm()).toBe(true);
    expect(h.asked).toEqual([0, 0]);
    const unused = harness([new Error("control database unreachable")]);
    unused.ctx.ownerCheckAhead!(); // the statement failed: its confirm is never called
  });
});

describe("ownerCheckAhead after this replica's own claim (claimedAt)", () => {
  it("a statement back within aheadMs of the claim commits on the lease the claim took: no check is sent", async () => {
    const h = harness(["lost"], 0);
    h.advance(100);
    const confirm = h.ctx.ownerCheckAhead!();
    h.advance(200);
    expect(await confirm()).toBe(true);
    expect(h.asked).toEqual([]);
  });

  it("a statement back later than that is checked once it returned: a cancel recorded meanwhile wins", async () => {
    const h = harness(["canceled"], 0);
    h.advance(100);
    const confirm = h.ctx.ownerCheckAhead!();
    h.advance(201);
    expect(await confirm()).toBe(false);
    expect(h.asked).toEqual([301]);
    expect(h.canceled()).toBe(1);
  });

  it("a claim older than half of aheadMs when the statement goes out (the run waited for a slot): the check goes with it", async () => {
    const h = harness(["lost"], 0);
    h.advance(151);
    const confirm = h.ctx.ownerCheckAhead!();
    expect(h.asked).toEqual([151]);
    expect(await confirm()).toBe(false);
  });

  it("an execution aborted after the claim does not commit", async () => {
    const h = harness([], 0);
    const confirm = h.ctx.ownerCheckAhead!();
    h.abort();
    expect(await confirm()).toBe(false);
    expect(h.asked).toEqual([]);
  });
});
