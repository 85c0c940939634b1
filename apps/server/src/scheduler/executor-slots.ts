/**
 * A replica's executor slots (RUNWAY_CONCURRENCY: runs executed at once) and the runs it claims ahead of
 * them (RUNWAY_CLAIM_AHEAD).
 *
 * Why claim ahead: a slot is refilled by the statement that writes the outcome of the run that held it
 * (finish + claim, one round trip). With quick runs that round trip is most of a slot's cycle, and the slot
 * sits idle through it. A replica may therefore hold up to `ahead` more runs claimed (RUNNING, its lease
 * renewed) than it executes; a run starts the moment a slot frees, and the finish statements carry more
 * outcomes each. It does so only while its runs are quick (their moving mean at most `quickRunMs`), so a
 * run never sits RUNNING without executing for longer than about `ahead ÷ size` quick runs (two by
 * default): a replica running long migrations holds no run it cannot start, and one that has run nothing
 * yet claims only its free slots. Twice the slots drained SELECT 1 runs 15–25% faster than as many as the
 * slots, and three times no faster (docs/benchmarks.md §8).
 */

/** How many runs to claim ahead of the free slots, given the moving mean of the last runs' durations (null: none yet). */
export function claimAheadOf(meanRunMs: number | null, p: { ahead: number; quickRunMs: number }): number {
  return meanRunMs !== null && meanRunMs <= p.quickRunMs ? p.ahead : 0;
}

/** The moving mean's weight of each new run (about the last ten runs count). */
const WEIGHT = 0.1;

export class ExecutorSlots {
  private busy = 0;
  /** Waiting for a slot, oldest first (the order the runs were claimed in). */
  private readonly waiting: { wake: () => void }[] = [];
  private meanRunMs: number | null = null;

  constructor(
    readonly size: number,
    private readonly opts: { ahead: number; quickRunMs: number },
  ) {}

  /** Runs the replica may hold claimed beyond its slots now. */
  ahead(): number {
    return claimAheadOf(this.meanRunMs, this.opts);
  }

  /** Waits for a free slot; false when `signal` aborts first (no slot was taken then). */
  acquire(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (this.busy < this.size && this.waiting.length === 0) {
      this.busy++;
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve) => {
      const entry = {
        wake: () => {
          signal.removeEventListener("abort", onAbort);
          this.busy++;
          resolve(true);
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve(false);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  /** Frees a slot taken by acquire(); `ranMs`: how long the run executed (feeds the claim-ahead decision). */
  release(ranMs: number): void {
    this.busy--;
    this.meanRunMs = this.meanRunMs === null ? ranMs : this.meanRunMs + WEIGHT * (ranMs - this.meanRunMs);
    const next = this.waiting.shift();
    if (next) next.wake();
  }
}
