import type { CandidateRow } from "./gating-candidates.js";

/**
 * The full pass's read from several cursors at once (issue 19): each reader session sorts the PENDING runs
 * of its part of the databases, and the parts are merged here back into the one order a single cursor
 * returns. Splitting the sort is what lets a second core work on the pass's first batch, the wait in
 * which neither the pass's session nor Node has anything to do.
 */

/**
 * The cursor's ORDER BY (store/gating-full.ts: `r.ahead DESC, created_ms, r.id`) as a comparison of two
 * rows: negative when `a` comes first. Ids are bigints as decimal text without leading zeros, so the
 * shorter one is the smaller.
 */
export function compareCandidateRows(a: CandidateRow, b: CandidateRow): number {
  if (a.ahead !== b.ahead) return a.ahead ? -1 : 1;
  if (a.created_ms !== b.created_ms) return a.created_ms - b.created_ms;
  if (a.id.length !== b.id.length) return a.id.length - b.id.length;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** A cursor's FETCH of its next `n` rows (fewer, or none, once it is exhausted). */
export type Fetch = (n: number) => Promise<CandidateRow[]>;

/**
 * Batch sizes that start at `first` and double up to `max`: the k-th batch (from 0) has ramp(k) rows. A
 * full pass's first batch is what the executors wait for after a start (its promotions are committed at its
 * checkpoint); a small one is read, decided and written sooner, and the later, larger ones keep the
 * statements per run as few as a fixed size did.
 */
export interface Ramp {
  first: number;
  max: number;
}

export function rampSize(r: Ramp, k: number): number {
  return Math.min(r.max, r.first * 2 ** Math.min(k, 40));
}

interface Stream {
  fetch: Fetch;
  rows: CandidateRow[];
  pos: number;
  /** The FETCH sent for the rows after `rows` (and how many rows it asked for), or null when none is in flight. */
  ahead: { rows: Promise<CandidateRow[]>; asked: number } | null;
  exhausted: boolean;
}

export interface Merged {
  /** The next batch (rampSize(ramp, k) rows for the k-th) in the cursors' order; short or empty once every cursor is exhausted. */
  next(): Promise<CandidateRow[]>;
  /** Whether the batch `next` returned last had its full size, so more rows may follow (a short one is the last). */
  full(): boolean;
  /**
   * Sends the FETCH of each cursor whose rows the last batch took into use, so PostgreSQL reads while the
   * caller decides: a cursor holds two FETCHes' rows at most. Separate from `next` so that the caller can
   * send a statement of its own first on a session a cursor shares.
   */
  prefetch(): void;
}

/**
 * Merges ordered cursors into batches in the same order, the k-th of rampSize(ramp, k) rows. A FETCH asks
 * for as many rows as the batch it is for (the one being put together, or the next one when prefetched), so
 * a batch waits for one FETCH per cursor at most. With `eager`, each one's first FETCH is sent at once.
 */
export function mergeOrdered(fetches: Fetch[], ramp: Ramp, eager: boolean): Merged {
  /** Batches handed out so far: the one being put together is the next. */
  let batches = 0;
  let lastFull = true;
  const send = (s: Stream, asked: number): { rows: Promise<CandidateRow[]>; asked: number } => ({ rows: s.fetch(asked), asked });
  const streams: Stream[] = fetches.map((fetch) => ({ fetch, rows: [], pos: 0, ahead: null, exhausted: false }));
  if (eager) for (const s of streams) s.ahead = send(s, rampSize(ramp, 0));
  const refill = async (s: Stream): Promise<void> => {
    const f = s.ahead ?? send(s, rampSize(ramp, batches));
    s.rows = await f.rows;
    s.pos = 0;
    s.ahead = null;
    s.exhausted = s.rows.length < f.asked;
  };
  return {
    async next() {
      const size = rampSize(ramp, batches);
      const out: CandidateRow[] = [];
      while (out.length < size) {
        for (const s of streams) if (s.pos === s.rows.length && !s.exhausted) await refill(s);
        const open = streams.filter((s) => s.pos < s.rows.length);
        if (open.length === 0) break;
        if (open.length === 1) {
          // One cursor left with rows: the rest of its rows in one slice, up to the batch.
          const s = open[0]!;
          const take = Math.min(size - out.length, s.rows.length - s.pos);
          for (let i = 0; i < take; i++) out.push(s.rows[s.pos + i]!);
          s.pos += take;
          continue;
        }
        // Until one of the open cursors runs out of the rows at hand (then refilled above).
        while (out.length < size && open.every((s) => s.pos < s.rows.length)) {
          let first = open[0]!;
          for (let i = 1; i < open.length; i++) {
            const o = open[i]!;
            if (compareCandidateRows(o.rows[o.pos]!, first.rows[first.pos]!) < 0) first = o;
          }
          out.push(first.rows[first.pos++]!);
        }
      }
      batches++;
      lastFull = out.length === size;
      return out;
    },
    full: () => lastFull,
    prefetch() {
      // A cursor whose rows at hand came from a FETCH (none yet before the first batch) and that has more.
      for (const s of streams) if (s.ahead === null && !s.exhausted && s.rows.length > 0) s.ahead = send(s, rampSize(ramp, batches));
    },
  };
}
