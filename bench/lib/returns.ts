/**
 * When a drain should next ask the database how many runs are left. The harness counts the task functions
 * (or executors) that returned, in its own process: until they add up to the total it asks only every
 * `backstopMs`, then every `finalMs` until the database agrees (a run that ran twice only makes that start
 * early). Asking all along was the harness's own load on the server it measures (issue 19,
 * docs/benchmarks.md §8, "the harness's poll").
 */
export class ReturnCounter {
  private returned = 0;
  private allReturned: (() => void) | undefined;

  constructor(
    private readonly total: number,
    private readonly opts: { backstopMs: number; finalMs: number },
  ) {}

  /** Called once for each task function or executor that returned. */
  readonly ended = (): void => {
    if (++this.returned >= this.total) this.allReturned?.();
  };

  /** Waits until it is time to ask the database again, never past `capAt` (a performance.now() time). */
  async untilNextPoll(capAt: number): Promise<void> {
    if (this.returned >= this.total) {
      await new Promise<void>((r) => setTimeout(r, this.opts.finalMs));
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.allReturned = resolve;
      timer = setTimeout(resolve, Math.max(0, Math.min(this.opts.backstopMs, capAt - performance.now())));
    });
    clearTimeout(timer);
    this.allReturned = undefined;
  }
}
