import { describe, expect, it } from "vitest";
import type { WaitingCause } from "@runway/shared";
import { liveRevisits, type LiveRevisitFacts } from "./live-revisits.js";
import { candidateMaker } from "../../test/helpers/candidates.js";

const cand = candidateMaker(new Date("2026-01-01T12:00:00Z"));
const limitCause: WaitingCause = { type: "PARALLEL_LIMIT", limit: 2, since: "2026-01-01T00:00:00.000Z" };
const busyCause: WaitingCause = { type: "DATABASE_BUSY", taskId: "9", since: "2026-01-01T00:00:00.000Z" } as WaitingCause;

const facts = (p: Partial<LiveRevisitFacts>): LiveRevisitFacts => ({
  candidates: [],
  decision: { promote: [], causes: [] },
  freed: new Set(),
  rollouts: [],
  busy: new Map(),
  active: new Map(),
  limitWaiting: new Set(),
  busyMore: new Set(),
  limitMargin: 8,
  ...p,
});

describe("liveRevisits", () => {
  it("marks a database a sequential promotion took while limit-held sequential runs wait there", () => {
    const promoted = cand({ dbKey: "i/a" });
    const heldHere = cand({ dbKey: "i/b", cause: limitCause });
    const took = cand({ dbKey: "i/b" });
    const quiet = cand({ dbKey: "i/c" });
    const r = liveRevisits(
      facts({
        candidates: [promoted, heldHere, took, quiet],
        decision: { promote: [promoted, took, quiet], causes: [] },
        // a: runs the pass did not read wait there for the limit; b: one it read stays limit-held; c: none.
        limitWaiting: new Set(["i/a"]),
      }),
    );
    expect(r.dbs).toEqual(["i/a", "i/b"]);
  });

  it("marks a freed database that is still free and has more DATABASE_BUSY runs than the read took", () => {
    const a = cand({ dbKey: "i/a", cause: busyCause });
    const b = cand({ dbKey: "i/b", cause: busyCause });
    const c = cand({ dbKey: "i/c", cause: busyCause });
    const r = liveRevisits(
      facts({
        candidates: [a, b, c],
        freed: new Set(["i/a", "i/b", "i/c"]),
        // b is held again (by a dry run, say), c has no more waiters than were read.
        busy: new Map([["i/b", "7"]]),
        busyMore: new Set(["i/a", "i/b"]),
      }),
    );
    expect(r.dbs).toEqual(["i/a"]);
  });

  it("marks a rollout whose limit-held runs were cut at its free slots and margin, while it still has free slots", () => {
    const held = (rolloutId: string, n: number) =>
      Array.from({ length: n }, () => cand({ rolloutId, limit: 2, sequential: false, cause: limitCause }));
    const r = liveRevisits(
      facts({
        candidates: [...held("cut", 10), ...held("short", 9), ...held("all", 10), ...held("full", 10)],
        rollouts: [
          { rolloutId: "cut", allLimited: false },
          { rolloutId: "short", allLimited: false },
          { rolloutId: "all", allLimited: true },
          { rolloutId: "full", allLimited: false },
        ],
        // cut: 2 free slots + margin 8 = 10 read, the cap; short: fewer than the cap, so it read them all;
        // all: its limit changed, every limit-held run was read; full: no free slot left.
        active: new Map([["full", 2]]),
      }),
    );
    expect(r.rollouts).toEqual(["cut"]);
  });
});
