import { msUntil, systemClock, type Clock } from "./clock.js";

/**
 * Runs `runOnce` on a jittered interval and whenever `wake()` is called, never two at a time. A wake that
 * arrives during a run triggers one more run right after it, so no wake-up is lost. Errors are reported
 * and the loop goes on.
 */
export class Loop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private atTimer: NodeJS.Timeout | undefined;
  private atTime = Infinity;
  private stopped = true;
  private quietUntil = 0;
  private quietTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly name: string,
    private readonly runOnce: () => Promise<unknown>,
    private readonly opts: {
      intervalMs: number;
      jitter?: number;
      onError: (name: string, err: unknown) => void;
      /** The clock `wakeAt` times are on (the control database's in a replica). */
      clock?: Clock;
    },
  ) {}

  /** Starts the loop; resolves when its first run has ended (successful or not). */
  start(): Promise<void> {
    this.stopped = false;
    this.wake();
    return this.running ?? Promise.resolve();
  }

  /** Runs as soon as possible (coalescing bursts of wake-ups), or when a quiet time (see quietFor) ends. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    const quiet = this.quietUntil - performance.now();
    if (quiet > 0) {
      // Deferred, never dropped: one run when the quiet time ends stands for every wake-up during it.
      this.quietTimer ??= setTimeout(() => {
        this.quietTimer = undefined;
        this.wake();
      }, Math.ceil(quiet));
      this.quietTimer.unref();
      return;
    }
    clearTimeout(this.timer);
    this.running = this.tick();
  }

  /**
   * Defers wake-ups for the next `ms` (by the process's monotonic clock: a duration, not a database time);
   * those that arrive meanwhile, including one during the current run, coalesce into one run when it ends.
   */
  quietFor(ms: number): void {
    this.quietUntil = Math.max(this.quietUntil, performance.now() + ms);
  }

  /**
   * Schedules a run at `at` by the loop's clock (one timer: an earlier time replaces a later one). The
   * delay is taken from that clock, never the process's: a run-at is a database time.
   */
  wakeAt(at: Date): void {
    if (this.stopped || at.getTime() >= this.atTime) return;
    clearTimeout(this.atTimer);
    this.atTime = at.getTime();
    const delay = msUntil(this.opts.clock ?? systemClock, at);
    this.atTimer = setTimeout(
      () => {
        this.atTime = Infinity;
        this.wake();
      },
      Math.min(delay + 5, 2 ** 31 - 1),
    );
    this.atTimer.unref();
  }

  private async tick(): Promise<void> {
    try {
      do {
        this.again = false;
        try {
          await this.runOnce();
        } catch (err) {
          this.opts.onError(this.name, err);
        }
      } while (this.again && !this.stopped && performance.now() >= this.quietUntil);
    } finally {
      this.running = undefined;
      if (!this.stopped) {
        const jitter = this.opts.jitter ?? 0.2;
        const delay = this.opts.intervalMs * (1 - jitter + Math.random() * 2 * jitter);
        this.timer = setTimeout(() => this.wake(), delay);
        this.timer.unref();
      }
      // A wake-up the quiet time held back: last, so that a run it starts at once (the quiet time ended
      // meanwhile) clears the interval timer above instead of leaving it beside its own.
      if (this.again) {
        this.again = false;
        this.wake();
      }
    }
  }

  /** Stops scheduling and waits for a run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.atTimer);
    clearTimeout(this.quietTimer);
    this.quietTimer = undefined;
    await this.running;
  }
}
