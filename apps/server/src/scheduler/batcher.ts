/**
 * Natural batching: an item is written at once while fewer than `maxInFlight` writes are in flight;
 * items that arrive meanwhile are written together as soon as one ends. No added latency when idle, fewer
 * statements (and commits) under load. A failed write rejects every item of its batch.
 *
 * `linger` may hold a batch back for a few milliseconds so that more items join it (as a producer's
 * linger.ms, or graphile-worker's completeJobBatchDelay): asked before each write with the items queued,
 * it answers how long to wait at most and how many items are enough to write at once (null: write now).
 */
export interface Linger {
  ms: number;
  enough: number;
}

export class Batcher<I, O> {
  private queue: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = 0;
  /** While a batch lingers: ends the wait (enough items queued, or its time is up). */
  private lingering: { enough: number; end: () => void } | undefined;

  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly opts: { maxBatch?: number; maxInFlight?: number; linger?: (queued: number) => Linger | null } = {},
  ) {}

  push(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.lingering && this.queue.length >= this.lingering.enough) this.lingering.end();
      if (this.inFlight < (this.opts.maxInFlight ?? 1)) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.inFlight++;
    try {
      while (this.queue.length > 0) {
        // Awaited only when it lingers: otherwise the batch goes out in this very turn, as before.
        const wait = this.linger();
        if (wait) {
          await wait;
          // With maxInFlight > 1 another flush may have written the queue meanwhile: never write an empty batch.
          if (this.queue.length === 0) break;
        }
        const batch = this.queue.splice(0, this.opts.maxBatch ?? 100);
        try {
          const out = await this.write(batch.map((b) => b.item));
          batch.forEach((b, i) => b.resolve(out[i]!));
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.inFlight--;
    }
  }

  /** The wait `opts.linger` asks for before a batch is taken (one batch lingers at a time), or undefined: none. */
  private linger(): Promise<void> | undefined {
    if (this.lingering) return undefined;
    const l = this.opts.linger?.(this.queue.length) ?? null;
    if (l === null || l.ms <= 0 || this.queue.length >= l.enough) return undefined;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.lingering?.end(), l.ms);
      this.lingering = {
        enough: l.enough,
        end: () => {
          clearTimeout(timer);
          this.lingering = undefined;
          resolve();
        },
      };
    });
  }
}
