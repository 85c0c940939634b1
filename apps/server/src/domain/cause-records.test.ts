import { describe, expect, it } from "vitest";
import type { WaitingCause } from "@runway/shared";
import { causeRecords, isStageCause } from "./cause-records.js";
import { decide } from "./gating.js";
import { candidateMaker } from "../../test/helpers/candidates.js";

const now = new Date("2026-01-01T12:00:00Z");
const since = now.toISOString();
const cand = candidateMaker(now, { stageId: "s2" });
const empty = { now, busy: new Map<string, string>(), active: new Map<string, number>() };
const gate = { stageId: "s1", environment: "test", done: 0, total: 3 };
const stageGate: WaitingCause = { type: "STAGE_GATE", ...gate, since: "2025-06-01T00:00:00.000Z" };
const limit: WaitingCause = { type: "PARALLEL_LIMIT", limit: 1, since: "2025-06-01T00:00:00.000Z" };

describe("causeRecords", () => {
  it("records a release control's cause once per stage, and every other cause on its run", () => {
    const held = [cand({ stageBlocker: gate }), cand({ stageBlocker: gate }), cand({ stageId: "s3", approvalNeeded: "admin" })];
    const free = [cand({ stageId: "s1", limit: 1 }), cand({ stageId: "s1", limit: 1 })];
    const all = [...held, ...free];
    const r = causeRecords(decide(all, empty), all);
    expect(r.stages).toEqual([
      { stageId: "s2", rolloutId: "r1", cause: { type: "STAGE_GATE", ...gate, since } },
      { stageId: "s3", rolloutId: "r1", cause: { type: "APPROVAL_REQUIRED", stageId: "s3", role: "admin", since } },
    ]);
    expect(r.runs).toEqual([{ runId: free[1]!.runId, cause: { type: "PARALLEL_LIMIT", limit: 1, since } }]);
    // Read without a cause: no row of theirs to delete, no stage row that may go.
    expect(r.held).toEqual([]);
    expect(r.freed).toEqual([]);
    expect(r.approvals).toEqual([{ stageId: "s3", role: "admin" }]);
  });

  it("takes the run's own row away when its stage's cause now holds it", () => {
    const c = cand({ cause: limit, limit: 1, paused: { by: "ann", at: now, reason: "" } });
    const r = causeRecords(decide([c], empty), [c]);
    expect(r.stages.map((s) => [s.stageId, s.cause.type])).toEqual([["s2", "PAUSED"]]);
    expect(r.held).toEqual([c.runId]);
  });

  it("frees a stage whose runs were read with its cause and no release control holds any more", () => {
    const promoted = cand({ cause: stageGate });
    const limited = cand({ cause: stageGate, limit: 1, sequential: false });
    const other = cand({ stageId: "s9", cause: limit, limit: 1, sequential: false });
    const r = causeRecords(decide([promoted, limited, other], empty), [promoted, limited, other]);
    expect(r.runs.map((x) => [x.runId, x.cause.type])).toEqual([[limited.runId, "PARALLEL_LIMIT"]]);
    // s9's run had a cause of its own before and after: its stage never had a row to free.
    expect(r.freed).toEqual(["s2"]);
    expect(r.stages).toEqual([]);
  });

  it("keeps a stage's row while a run there is held, even beside a failed orphan", () => {
    const orphan = cand({ cause: stageGate, stageBlocker: gate, orphanReason: "instance deleted" });
    const heldNew = cand({ cause: null, stageBlocker: gate });
    const heldSame = cand({ cause: stageGate, stageBlocker: gate });
    const d = decide([orphan, heldNew, heldSame], empty);
    expect(d.fail.map((f) => f.runId)).toEqual([orphan.runId]);
    const r = causeRecords(d, [orphan, heldNew, heldSame]);
    expect(r.stages.map((s) => s.stageId)).toEqual(["s2"]);
    expect(r.freed).toEqual([]);
  });

  it("names the release controls' causes", () => {
    expect(isStageCause(stageGate)).toBe(true);
    expect(isStageCause(limit)).toBe(false);
    expect(isStageCause(null)).toBe(false);
  });
});
