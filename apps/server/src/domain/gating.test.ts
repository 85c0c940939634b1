import { describe, expect, it } from "vitest";
import { dbKey, dbKeyParts, decide, decideBatch, type GatingState } from "./gating.js";
import { candidateMaker } from "../../test/helpers/candidates.js";

const now = new Date("2026-01-01T12:00:00Z");
const cand = candidateMaker(now, { dbKey: "i/db" });
const empty = { now, busy: new Map<string, string>(), active: new Map<string, number>() };

describe("dbKey", () => {
  it("gives its parts back, a database name with a slash included", () => {
    expect(dbKeyParts(dbKey("inst-1", "app/eu"))).toEqual({ instanceId: "inst-1", database: "app/eu" });
  });
});

describe("decide", () => {
  it("promotes in FIFO order and counts this pass's promotions against the database and the limit", () => {
    const b = cand({ dbKey: "i/b", createdAt: new Date(now.getTime() - 10) });
    const a1 = cand({ dbKey: "i/a", createdAt: new Date(now.getTime() - 30) });
    const a2 = cand({ dbKey: "i/a", createdAt: new Date(now.getTime() - 20) });
    const c = cand({ dbKey: "i/c", createdAt: new Date(now.getTime() - 5), limit: 2 });
    const d = decide([b, a2, c, a1], empty);
    expect(d.promote.map((x) => x.runId)).toEqual([a1.runId, b.runId]);
    expect(d.causes).toEqual([
      { runId: a2.runId, cause: { type: "DATABASE_BUSY", taskId: a1.taskId, since: now.toISOString() } },
      { runId: c.runId, cause: { type: "PARALLEL_LIMIT", limit: 2, since: now.toISOString() } },
    ]);
  });

  it("checks gates in order: run-at, version order, busy database, parallel limit", () => {
    const runAt = new Date(now.getTime() + 60_000);
    const blocker = { taskId: "t0", schemaVersion: "0001", status: "PENDING" };
    const busy = new Map([["i/db", "tb"]]);
    const active = new Map([["r1", 5]]);
    const all = { now, busy, active };
    expect(decide([cand({ runAt, versionBlocker: blocker, limit: 1 })], all).causes[0]!.cause.type).toBe("RUN_AT");
    expect(decide([cand({ versionBlocker: blocker, limit: 1 })], all).causes[0]!.cause.type).toBe("VERSION_ORDER");
    expect(decide([cand({ limit: 1 })], all).causes[0]!.cause.type).toBe("DATABASE_BUSY");
    expect(decide([cand({ limit: 1, sequential: false })], all).causes[0]!.cause.type).toBe("PARALLEL_LIMIT");
    expect(decide([cand({ limit: 6, sequential: false })], all).promote).toHaveLength(1);
  });

  it("does not rewrite a cause that did not change (its `since` stays)", () => {
    const cause = { type: "DATABASE_BUSY" as const, taskId: "tb", since: "2025-01-01T00:00:00.000Z" };
    const d = decide([cand({ cause })], { ...empty, busy: new Map([["i/db", "tb"]]) });
    expect(d.causes).toEqual([]);
    // A new holder is the same wait: the API names the current holder live, the record keeps its `since`.
    expect(decide([cand({ cause })], { ...empty, busy: new Map([["i/db", "tc"]]) }).causes).toEqual([]);
    const limited = { type: "PARALLEL_LIMIT" as const, limit: 2, since: "2025-01-01T00:00:00.000Z" };
    const changed = decide([cand({ cause: limited, limit: 3 })], { ...empty, active: new Map([["r1", 3]]) });
    expect(changed.causes[0]!.cause).toMatchObject({ type: "PARALLEL_LIMIT", limit: 3, since: now.toISOString() });
    const freed = decide([cand({ cause, limit: 1 })], { ...empty, active: new Map([["r1", 1]]) });
    expect(freed.causes[0]!.cause).toMatchObject({ type: "PARALLEL_LIMIT", since: now.toISOString() });
  });

  it("says BLOCKED_BY_FAILED when the nearest smaller version failed or was canceled", () => {
    for (const status of ["FAILED", "CANCELED"] as const) {
      const d = decide([cand({ versionBlocker: { taskId: "t0", schemaVersion: "0001", status } })], empty);
      expect(d.causes[0]!.cause).toEqual({
        type: "BLOCKED_BY_FAILED",
        taskId: "t0",
        schemaVersion: "0001",
        status,
        since: now.toISOString(),
      });
      expect(
        decide([cand({ versionBlocker: { taskId: "t0", schemaVersion: "0001", status }, cause: d.causes[0]!.cause })], empty).causes,
      ).toEqual([]);
    }
    // Retried (PENDING again): waiting for it, as any other smaller version.
    const back = decide([cand({ versionBlocker: { taskId: "t0", schemaVersion: "0001", status: "PENDING" } })], empty);
    expect(back.causes[0]!.cause.type).toBe("VERSION_ORDER");
  });

  it("decides a retried blocker before older waiting runs of its rollout", () => {
    const old = cand({ sequential: false, limit: 1, createdAt: new Date(now.getTime() - 100) });
    const retried = cand({ sequential: false, limit: 1, ahead: true });
    const d = decide([old, retried], empty);
    expect(d.promote.map((c) => c.runId)).toEqual([retried.runId]);
    expect(d.causes.map((c) => c.runId)).toEqual([old.runId]);
  });

  it("fails orphaned runs instead of gating them", () => {
    const orphan = cand({ orphanReason: 'instance "x" was deleted' });
    const d = decide([orphan], empty);
    expect(d.fail).toEqual([{ runId: orphan.runId, reason: 'instance "x" was deleted' }]);
  });
});

describe("decide: runs held for a retry", () => {
  it("holds a run whose target was unreachable until its retry time, with the cause since the first failure", () => {
    const since = new Date(now.getTime() - 60_000);
    const held = cand({ targetRetry: { retryAt: new Date(now.getTime() + 4000), since, attempts: 3, lastError: "ECONNREFUSED" } });
    const due = cand({
      dbKey: "i/other",
      targetRetry: { retryAt: new Date(now.getTime() - 1), since, attempts: 4, lastError: "ECONNREFUSED" },
    });
    const d = decide([held, due], empty);
    expect(d.promote.map((c) => c.runId)).toEqual([due.runId]);
    expect(d.causes).toEqual([
      {
        runId: held.runId,
        cause: {
          type: "TARGET_UNREACHABLE",
          attempts: 3,
          lastError: "ECONNREFUSED",
          retryAt: new Date(now.getTime() + 4000).toISOString(),
          since: since.toISOString(),
        },
      },
    ]);
    // Recorded already: nothing to rewrite.
    expect(decide([{ ...held, cause: d.causes[0]!.cause }], empty).causes).toEqual([]);
  });

  it("holds a run after a lock or serialization failure until its backoff ends (RETRY_BACKOFF), before any other gate", () => {
    const until = new Date(now.getTime() + 2000);
    const held = cand({ autoRetry: { until, attempt: 1, max: 3 }, runAt: new Date(now.getTime() + 9000) });
    const due = cand({ dbKey: "i/other", autoRetry: { until: new Date(now.getTime() - 1), attempt: 2, max: 3 } });
    const d = decide([held, due], empty);
    expect(d.promote.map((c) => c.runId)).toEqual([due.runId]);
    expect(d.causes).toEqual([
      { runId: held.runId, cause: { type: "RETRY_BACKOFF", until: until.toISOString(), attempt: 1, max: 3, since: now.toISOString() } },
    ]);
    expect(decide([{ ...held, cause: d.causes[0]!.cause }], empty).causes).toEqual([]);
    // The next retry is another cause.
    const next = { ...held, cause: d.causes[0]!.cause, autoRetry: { until, attempt: 2, max: 3 } };
    expect(decide([next], empty).causes.map((c) => c.cause)).toMatchObject([{ type: "RETRY_BACKOFF", attempt: 2 }]);
  });
});

describe("decideBatch", () => {
  it("over batches in decide()'s order decides exactly what one decide() over all does", () => {
    // Deterministic mix: shared databases, limited and unlimited rollouts, ties in created_at, runs ahead.
    let x = 7;
    const rnd = () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
    const all = Array.from({ length: 300 }, () =>
      cand({
        dbKey: `i/db${Math.floor(rnd() * 6)}`,
        rolloutId: `r${Math.floor(rnd() * 4)}`,
        limit: [0, 2, 5][Math.floor(rnd() * 3)]!,
        sequential: rnd() < 0.6,
        ahead: rnd() < 0.05,
        createdAt: new Date(now.getTime() - 1000 + Math.floor(rnd() * 40)),
      }),
    );
    const start: GatingState = { now, busy: new Map([["i/db0", "held"]]), active: new Map([["r1", 1]]) };
    const order = [...all].sort((a, b) =>
      a.ahead !== b.ahead ? (a.ahead ? -1 : 1) : a.createdAt.getTime() - b.createdAt.getTime() || Number(BigInt(a.runId) - BigInt(b.runId)),
    );
    const whole = decide(all, start);
    for (const size of [1, 7, 50, 299]) {
      let state = start;
      const got = { promote: [] as string[], causes: [] as unknown[] };
      for (let i = 0; i < order.length; i += size) {
        const r = decideBatch(order.slice(i, i + size), state);
        state = r.state;
        got.promote.push(...r.decision.promote.map((c) => c.runId));
        got.causes.push(...r.decision.causes);
      }
      expect(got.promote).toEqual(whole.promote.map((c) => c.runId));
      expect(got.causes).toEqual(whole.causes);
    }
    expect(whole.promote.length).toBeGreaterThan(3);
    expect(new Set(whole.causes.map((c) => c.cause.type))).toEqual(new Set(["DATABASE_BUSY", "PARALLEL_LIMIT"]));
  });
});
