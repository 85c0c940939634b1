import type { DryRunner, DryRunSettings } from "../executors/dry-run.js";
import type { Db } from "../store/db.js";
import { dryRunFinish, dryRunsClaim, dryRunsRenew, dryRunsSweep, type ClaimedDryRun } from "../store/dry-runs.js";
import type { Clock } from "./clock.js";

export interface DryRunPass {
  claimed: number;
  requeued: number;
  lost: number;
}

/**
 * Runs queued dry runs (issue 15) as ordinary scheduled, leased work, apart from runs: its own slots (the
 * project's parallel limit and the replica's run concurrency do not count dry runs), the database gate
 * (store/dry-runs.ts), a lease renewed on every pass while one executes, and a sweep that takes over or
 * reports lost the dry runs of a replica that stopped. Results are rows, so they survive restarts.
 *
 * `runOnce()`: renew the leases of this replica's dry runs, sweep expired ones (any replica's), claim up to
 * the free slots and start them (not awaited: a finished one wakes the loop through `onSlotFree`).
 */
export class DryRunScheduler {
  private readonly inflight = new Map<string, { epoch: number; done: Promise<void> }>();
  private stopping = false;

  constructor(
    private readonly d: {
      db: Db;
      clock: Clock;
      replicaId: string;
      runner: DryRunner;
      leaseTtlMs: number;
      /** Dry runs this replica executes at once; default 2. */
      concurrency?: number;
      /** Claims per dry run before it is reported LOST; default 2. */
      maxAttempts?: number;
      settings?: Partial<DryRunSettings>;
      onSlotFree?: () => void;
      onError?: (err: unknown) => void;
      /** Test signal: a dry run's result was written (or refused by the fence). */
      onFinish?: (job: ClaimedDryRun, written: boolean) => void;
    },
  ) {}

  private get settings(): DryRunSettings {
    return { lockTimeoutMs: 2000, statementTimeoutMs: 30_000, ...this.d.settings };
  }

  async runOnce(): Promise<DryRunPass> {
    const { db, clock, replicaId, leaseTtlMs } = this.d;
    const mine = [...this.inflight].map(([id, j]) => ({ id, epoch: j.epoch }));
    if (mine.length > 0) await dryRunsRenew(db, { replicaId, jobs: mine, leaseTtlMs, now: clock.now() });
    const swept = await dryRunsSweep(db, {
      now: clock.now(),
      maxAttempts: this.d.maxAttempts ?? 2,
      statementTimeoutMs: this.settings.statementTimeoutMs,
    });
    if (this.stopping) return { claimed: 0, ...swept };
    const free = (this.d.concurrency ?? 2) - this.inflight.size;
    const jobs = await dryRunsClaim(db, { replicaId, limit: free, leaseTtlMs, now: clock.now() });
    for (const job of jobs) this.inflight.set(job.id, { epoch: job.epoch, done: this.execute(job) });
    return { claimed: jobs.length, ...swept };
  }

  private async execute(job: ClaimedDryRun): Promise<void> {
    const { db, clock, replicaId, runner } = this.d;
    try {
      const r = await runner.dryRun(
        {
          id: job.id,
          database: job.database,
          statement: job.statement,
          connectionUrl: job.connectionUrl,
          // The claimed job carries what the ledger check reads (its task, version, installation).
          ...(job.applyOnce ? { applyOnce: job } : {}),
        },
        this.settings,
      );
      // Written once; a failed write leaves the lease to expire and the sweep to take the dry run over.
      const written = await dryRunFinish(db, {
        id: job.id,
        replicaId,
        epoch: job.epoch,
        outcome: r.outcome,
        result: r.result,
        now: clock.now(),
      });
      this.d.onFinish?.(job, written);
    } catch (err) {
      this.d.onError?.(err);
    } finally {
      this.inflight.delete(job.id);
      this.d.onSlotFree?.();
    }
  }

  /** Stops claiming and waits up to `graceMs` for dry runs in progress; the rest are swept later. */
  async drain(graceMs: number): Promise<void> {
    this.stopping = true;
    const all = Promise.all([...this.inflight.values()].map((j) => j.done));
    await Promise.race([all, new Promise((r) => setTimeout(r, graceMs).unref())]);
  }
}
