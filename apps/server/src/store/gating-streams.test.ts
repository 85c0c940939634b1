import { describe, expect, it } from "vitest";
import type { CandidateRow } from "./gating-candidates.js";
import { compareCandidateRows, mergeOrdered, type Fetch } from "./gating-streams.js";

const row = (id: number, createdMs: number, ahead = false) => ({ id: String(id), created_ms: createdMs, ahead }) as CandidateRow;

/** A cursor over `rows` (already in order), counting its FETCHes and how many are unanswered at once. */
function cursor(rows: CandidateRow[], size: number) {
  const c = { fetches: 0, inFlight: 0, mostInFlight: 0, fetch: null as unknown as Fetch };
  let pos = 0;
  c.fetch = async () => {
    c.fetches++;
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

async function drain(m: ReturnType<typeof mergeOrdered>, size: number): Promise<string[][]> {
  const batches: string[][] = [];
  for (;;) {
    const b = await m.next();
    if (b.length === 0) return batches;
    batches.push(b.map((r) => r.id));
    if (b.length < size) return batches;
    m.prefetch();
  }
}

describe("the full pass's merge of its readers' cursors", () => {
  it("orders as the cursor's ORDER BY: ahead first, then created_ms, then id as a number", () => {
    const rows = [row(10, 5), row(9, 5), row(100, 5), row(7, 6), row(8, 9, true), row(11, 1)];
    expect([...rows].sort(compareCandidateRows).map((r) => r.id)).toEqual(["8", "11", "9", "10", "100", "7"]);
  });

  it("hands out full batches in one order, whatever the cursors' sizes, an empty cursor included", async () => {
    const all = Array.from({ length: 23 }, (_, i) => row(i + 1, Math.floor(i / 3)));
    const parts = [all.filter((r) => Number(r.id) % 3 === 0), all.filter((r) => Number(r.id) % 3 !== 0), []];
    for (const size of [1, 4, 23, 50]) {
      const cursors = parts.map((p) => cursor(p, size));
      const batches = await drain(
        mergeOrdered(
          cursors.map((c) => c.fetch),
          size,
          true,
        ),
        size,
      );
      expect(batches.flat()).toEqual(all.map((r) => r.id));
      expect(batches.slice(0, -1).every((b) => b.length === size)).toBe(true);
      for (const c of cursors) expect(c.mostInFlight).toBeLessThanOrEqual(1);
    }
  });

  it("ends with an empty batch when the rows fill the last one exactly", async () => {
    const c = cursor([row(1, 1), row(2, 1), row(3, 2), row(4, 2)], 2);
    const m = mergeOrdered([c.fetch], 2, false);
    expect((await m.next()).map((r) => r.id)).toEqual(["1", "2"]);
    m.prefetch();
    expect((await m.next()).map((r) => r.id)).toEqual(["3", "4"]);
    m.prefetch();
    expect(await m.next()).toEqual([]);
    expect(c.fetches).toBe(3);
  });
});
