/**
 * A replica's executor slots (RUNWAY_CONCURRENCY: runs executed at once) and the runs it claims ahead of
 * them (RUNWAY_CLAIM_AHEAD).
 *
 * Why claim ahead: a slot is refilled by the statement that writes the outcome of the run that held it
 * (finish + claim, one round trip). With quick runs that round trip is most of a slot's cycle, and the slot
 * sits idle through it. A replica may therefore hold up to `ahead` more runs claimed (RUNNING, its lease
 * renewed) than it executes; a run starts the moment a slot frees, and the finish statements carry more
 * outcomes each. Twice the slots drained SELECT 1 runs 15–25% faster than as many as the slots, and three
 * times no faster (docs/benchmarks.md §8).
 *
 * Only while runs are quick, so a run claimed ahead never shows RUNNING for long without executing: the
 * moving mean of the last runs' durations is at most `quickRunMs` and no run executing now has taken longer
 * (a slow run stops it at once, not when it ends); a replica that has run nothing yet claims only its free
 * slots. A run that still waits `4 × quickRunMs` after its claim (its slots turned slow meanwhile) is given
 * back (acquire's "late"), so a dashboard shows it AVAILABLE, waiting for a free executor, as it is.
 */

/** RUNWAY_CLAIM_AHEAD's default: twice the slots. */
export const defaultClaimAhead = (concurrency: number): number => 2 * concurrency;

/** How many runs to claim ahead of the free slots (meanRunMs null: no run ended yet; oldestRunningMs: the longest a run executing now has taken). */
export function claimAheadOf(meanRunMs: number | null, oldestRunningMs: number, p: { ahead: number; quickRunMs: number }): number {
  return meanRunMs !== null && meanRunMs <= p.quickRunMs && oldestRunningMs <= p.quickRunMs ? p.ahead : 0;
}

/** The moving mean's weight of each new run (about the last ten runs count). */
const WEIGHT = 0.1;

/** A slot held by one execution (from acquire, back through release). */
export interface Slot {
  readonly since: number;
}

export class ExecutorSlots {
  /** The slots taken, each with when its run started (performance.now()). */
  private readonly taken = new Set<Slot>();
  /** Waiting for a slot, oldest first (the order the runs were claimed in). */
  private readonly waiting: { wake: (slot: Slot) => void }[] = [];
  private meanRunMs: number | null = null;

  constructor(
    readonly size: number,
    private readonly opts: { ahead: number; quickRunMs: number },
  ) {}

  /** Runs the replica may hold claimed beyond its slots now. */
  ahead(): number {
    const now = performance.now();
    let oldest = 0;
    for (const s of this.taken) oldest = Math.max(oldest, now - s.since);
    return claimAheadOf(this.meanRunMs, oldest, this.opts);
  }

  /**
   * Waits for a free slot: the slot, or "aborted" when `signal` aborts first, or "late" when none freed
   * within 4 × quickRunMs (no slot is taken then).
   */
  acquire(signal: AbortSignal): Promise<Slot | "aborted" | "late"> {
    if (signal.aborted) return Promise.resolve("aborted");
    if (this.taken.size < this.size && this.waiting.length === 0) return Promise.resolve(this.take());
    return new Promise((resolve) => {
      const leave = (why: "aborted" | "late") => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        resolve(why);
      };
      const onAbort = () => leave("aborted");
      const timer = setTimeout(() => leave("late"), 4 * this.opts.quickRunMs);
      const entry = {
        wake: (slot: Slot) => {
          clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
          resolve(slot);
        },
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  /** Frees a slot taken by acquire(); how long its run took feeds the claim-ahead decision. */
  release(slot: Slot): void {
    if (!this.taken.delete(slot)) return;
    const ranMs = performance.now() - slot.since;
    this.meanRunMs = this.meanRunMs === null ? ranMs : this.meanRunMs + WEIGHT * (ranMs - this.meanRunMs);
    const next = this.waiting.shift();
    if (next) next.wake(this.take());
  }

  private take(): Slot {
    const slot = { since: performance.now() };
    this.taken.add(slot);
    return slot;
  }
}
