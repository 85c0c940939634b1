import { describe, expect, it } from "vitest";
import { sql } from "kysely";
import pg from "pg";
import { createDb } from "../src/store/db.js";
import { memoStatement } from "../src/store/memo-statement.js";
import { claimBucket, claimStatement } from "../src/store/transitions/claim.js";
import { createFewStatement } from "../src/store/transitions/api.js";
import { finishMemo } from "../src/store/transitions/finish.js";
import { promoteStatement } from "../src/store/transitions/pass.js";
import { PASS_LOCK_IDLE_MS, PENDING_PASS_LOCK, liveReadMemo, takeChangesMemo } from "../src/store/gating.js";
import { liveShapeKey } from "../src/store/gating-live-read.js";

// Compiling needs no connection: the pool is never used.
const db = createDb(new pg.Pool({ max: 1 }));

/** A memoized statement sends what a fresh build from the same values would. */
function sameAsFresh<V, S>(
  m: { compile: (d: typeof db, s: S, v: V) => unknown; fresh: (d: typeof db, s: S, v: V) => unknown },
  shape: S,
  values: V,
) {
  const a = m.compile(db, shape, values) as { sql: string; parameters: readonly unknown[] };
  const b = m.fresh(db, shape, values) as { sql: string; parameters: readonly unknown[] };
  expect(a.sql).toBe(b.sql);
  expect(a.parameters).toEqual(b.parameters);
}

describe("memoized statements (memoStatement)", () => {
  it("the claim sends what a fresh build sends, for every LIMIT bucket and any values", () => {
    for (const limit of [1, 2, 3, 16, 17, 30, 1000]) {
      for (const replicaId of ["r1", "replica o'brien"]) {
        const p = { replicaId, limit, leaseTtlMs: limit * 1000 + 7, now: new Date(Date.UTC(2026, 11, 5, 0, limit)) };
        sameAsFresh(claimStatement, claimBucket(limit), p);
      }
    }
  });

  it("the create of a few tasks sends what a fresh build sends, for an auto-run or not, with or without a run-at or a claim", () => {
    for (const n of [1, 2, 5, 32]) {
      for (const auto of ["auto", "user", "user:claim"]) {
        for (const runAt of [null, new Date(Date.UTC(2027, 0, 1))]) {
          const taskIds = Array.from({ length: n }, (_, i) => String(100 + i));
          const claim = auto.endsWith(":claim")
            ? { claimReplicaId: `replica ${n}`, claimLimit: n + 3, claimLeaseTtlMs: 15000 + n }
            : { claimReplicaId: "", claimLimit: 0, claimLeaseTtlMs: 0 };
          const values = {
            rolloutId: "42",
            taskIds,
            count: n,
            runAt,
            actor: `user ${n}`,
            now: new Date(Date.UTC(2026, 11, 5, n)),
            ...claim,
          };
          const [kind, ...rest] = auto.split(":");
          sameAsFresh(createFewStatement, [kind, claimBucket(n), ...rest].join(":"), values);
        }
      }
    }
  });

  it("the finish, alone or with a claim, sends what a fresh build sends, whatever its items end in", () => {
    for (const to of [["DONE"], ["DONE", "FAILED"], ["CANCELED"], ["DONE", "FAILED", "CANCELED"]]) {
      for (const applied of [false, true]) {
        for (const bucket of [0, 1, 16]) {
          const n = to.length + 1;
          const values = {
            ids: Array.from({ length: n }, (_, i) => String(7 + i)),
            replicas: Array.from({ length: n }, () => "r1"),
            epochs: Array.from({ length: n }, (_, i) => i + 1),
            statuses: Array.from({ length: n }, (_, i) => to[i % to.length]!),
            results: Array.from({ length: n }, (_, i) => JSON.stringify({ rows: i })),
            messages: Array.from({ length: n }, (_, i) => `message ${i}`),
            versions: Array.from({ length: n }, (_, i) => (applied && i === 0 ? "0001" : null)),
            checksums: Array.from({ length: n }, (_, i) => (applied && i === 0 ? "abc" : null)),
            now: new Date(Date.UTC(2026, 11, 5, 1, n)),
            replicaId: "r1",
            claimReplicaId: bucket > 0 ? "r1" : "",
            claimLimit: bucket,
            claimLeaseTtlMs: 15_000,
            claimNow: new Date(Date.UTC(2026, 11, 5, 2, n)),
          };
          sameAsFresh(finishMemo, JSON.stringify({ to, applied, bucket }), values);
        }
      }
    }
  });

  it("the pass's promote sends what a fresh build sends", () => {
    for (const runIds of [["1"], ["5", "6", "7"]]) {
      const now = new Date(Date.UTC(2026, 11, 5, runIds.length));
      const none = { claimReplicaId: "", claimLimit: 0, claimLeaseTtlMs: 0 };
      sameAsFresh(promoteStatement, "", { runIds, now, replicaId: `r${runIds.length}`, ...none });
      sameAsFresh(promoteStatement, "+commit", { runIds, now, replicaId: `r${runIds.length}`, ...none });
      const claim = { claimReplicaId: `r${runIds.length}`, claimLimit: runIds.length + 1, claimLeaseTtlMs: 15_000 };
      sameAsFresh(promoteStatement, "claim", { runIds, now, replicaId: `r${runIds.length}`, ...claim });
      sameAsFresh(promoteStatement, "claim+commit", { runIds, now, replicaId: `r${runIds.length}`, ...claim });
    }
  });

  it("the pass's first two statements (taking the change records under the lock, the live read) send what a fresh build sends", () => {
    for (const idle of [PASS_LOCK_IDLE_MS, 1234]) {
      for (const form of ["begin", "in"]) sameAsFresh(takeChangesMemo, `${PENDING_PASS_LOCK}:${idle}:${form}`, {});
    }
    // Every shape of the live read (liveShapeKey: which inputs hold anything), with 1 and 4 busy waiters.
    for (const busyWaiters of [1, 4]) {
      for (let mask = 0; mask < 32; mask++) {
        const has = (bit: number) => (mask & (1 << bit)) !== 0;
        const ids = (bit: number) => (has(bit) ? ["10", "11", "12"] : []);
        const values = {
          now: new Date(Date.UTC(2026, 11, 5, 3, mask)),
          since: new Date(Date.UTC(2026, 11, 5, 2, mask)),
          runs: ids(0),
          inst: ids(1).map((i) => `inst ${i}`),
          dbs: ids(1).map((i) => `db ${i}`),
          vfrom: ids(1).map((i) => (i === "10" ? null : `v${i}`)),
          vdone: ids(1).map((i) => (i === "12" ? `k${i}` : null)),
          tinst: ids(2).map((i) => `t-inst ${i}`),
          tdbs: ids(2).map((i) => `t-db ${i}`),
          tkeys: ids(2).map((i) => `k${i}`),
          rids: ids(3),
          rall: ids(3).map((i) => i === "11"),
          crids: ids(4).slice(1),
        };
        const key = liveShapeKey(busyWaiters, values);
        expect(key).toBe(`${busyWaiters}:${["n", "d", "t", "o", "c"].filter((_, bit) => has(bit)).join("")}`);
        sameAsFresh(liveReadMemo, key, values);
      }
    }
  });

  it("binds each call's values, and a later call does not see an earlier one's", () => {
    const m = memoStatement<{ a: number; b: string }, string, unknown>((v) => sql`SELECT ${v.a}::int, ${v.b}::text, ${"fixed"}::text`);
    expect(m.compile(db, "s", { a: 1, b: "x" }).parameters).toEqual([1, "x", "fixed"]);
    expect(m.compile(db, "s", { a: 2, b: "y" }).parameters).toEqual([2, "y", "fixed"]);
  });

  it("refuses a builder that shapes its text from a value instead of binding it", () => {
    const arithmetic = memoStatement<{ ms: number }, string, unknown>((v) => sql`SELECT ${v.ms / 1000}`);
    expect(() => arithmetic.compile(db, "s", { ms: 5000 })).toThrow(/value ms was used to build the statement's text/);
    const literal = memoStatement<{ name: string }, string, unknown>((v) => sql`SELECT ${sql.lit(`${v.name}`)}`);
    expect(() => literal.compile(db, "s", { name: "x" })).toThrow(/value name was used/);
  });
});
