import { describe, expect, it } from "vitest";
import type { CandidateRow } from "./gating-candidates.js";
import { compareCandidateRows, mergeOrdered, rampSize, type Fetch, type Ramp } from "./gating-streams.js";

const row = (id: number, createdMs: number, ahead = false) => ({ id: String(id), created_ms: createdMs, ahead }) as CandidateRow;

/** A cursor over `rows` (already in order), counting its FETCHes, the rows each asked for, and how many are unanswered at once. */
function cursor(rows: CandidateRow[]) {
  const c = { fetches: 0, asked: [] as number[], inFlight: 0, mostInFlight: 0, fetch: null as unknown as Fetch };
  let pos = 0;
  c.fetch = async (size) => {
    c.fetches++;
    c.asked.push(size);
    c.inFlight++;
    c.mostInFlight = Math.max(c.mostInFlight, c.inFlight);
    await Promise.resolve();
    c.inFlight--;
    const out = rows.slice(pos, pos + size);
    pos += out.length;
    return out;
  };
  return c;
}

async function drain(m: ReturnType<typeof mergeOrdered>): Promise<string[][]> {
  const batches: string[][] = [];
  for (;;) {
    const b = await m.next();
    if (b.length === 0) return batches;
    batches.push(b.map((r) => r.id));
    if (!m.full()) return batches;
    m.prefetch();
  }
}

const fixed = (n: number): Ramp => ({ first: n, max: n });

describe("the full pass's merge of its readers' cursors", () => {
  it("orders as the cursor's ORDER BY: ahead first, then created_ms, then id as a number", () => {
    const rows = [row(10, 5), row(9, 5), row(100, 5), row(7, 6), row(8, 9, true), row(11, 1)];
    expect([...rows].sort(compareCandidateRows).map((r) => r.id)).toEqual(["8", "11", "9", "10", "100", "7"]);
  });

  it("hands out full batches in one order, whatever the cursors' sizes, an empty cursor included", async () => {
    const all = Array.from({ length: 23 }, (_, i) => row(i + 1, Math.floor(i / 3)));
    const parts = [all.filter((r) => Number(r.id) % 3 === 0), all.filter((r) => Number(r.id) % 3 !== 0), []];
    for (const size of [1, 4, 23, 50]) {
      const cursors = parts.map((p) => cursor(p));
      const batches = await drain(
        mergeOrdered(
          cursors.map((c) => c.fetch),
          fixed(size),
          true,
        ),
      );
      expect(batches.flat()).toEqual(all.map((r) => r.id));
      expect(batches.slice(0, -1).every((b) => b.length === size)).toBe(true);
      for (const c of cursors) expect(c.mostInFlight).toBeLessThanOrEqual(1);
    }
  });

  it("ends with an empty batch when the rows fill the last one exactly", async () => {
    const c = cursor([row(1, 1), row(2, 1), row(3, 2), row(4, 2)]);
    const m = mergeOrdered([c.fetch], fixed(2), false);
    expect((await m.next()).map((r) => r.id)).toEqual(["1", "2"]);
    m.prefetch();
    expect((await m.next()).map((r) => r.id)).toEqual(["3", "4"]);
    m.prefetch();
    expect(await m.next()).toEqual([]);
    expect(c.fetches).toBe(3);
  });

  it("ramps: batches start at the first size and double up to the largest, each FETCH asking for its batch's size", async () => {
    const all = Array.from({ length: 40 }, (_, i) => row(i + 1, Math.floor(i / 2), i % 7 === 0));
    const sorted = [...all].sort(compareCandidateRows).map((r) => r.id);
    const parts = [all.filter((r) => Number(r.id) % 2 === 0), all.filter((r) => Number(r.id) % 2 !== 0)].map((p) =>
      [...p].sort(compareCandidateRows),
    );
    const ramp = { first: 2, max: 8 };
    expect([0, 1, 2, 3, 4].map((k) => rampSize(ramp, k))).toEqual([2, 4, 8, 8, 8]);
    const cursors = parts.map((p) => cursor(p));
    const batches = await drain(
      mergeOrdered(
        cursors.map((c) => c.fetch),
        ramp,
        true,
      ),
    );
    expect(batches.flat()).toEqual(sorted);
    expect(batches.map((b) => b.length)).toEqual([2, 4, 8, 8, 8, 8, 2]);
    for (const c of cursors) {
      expect(c.asked[0]).toBe(2);
      // Non-decreasing, never above the largest batch: a cursor never holds more than two batches' rows.
      expect(c.asked.every((n, i) => n <= 8 && (i === 0 || n >= c.asked[i - 1]!))).toBe(true);
      expect(c.mostInFlight).toBeLessThanOrEqual(1);
    }
  });
});
