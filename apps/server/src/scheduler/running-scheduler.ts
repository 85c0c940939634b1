import { taskRunsClaim, taskRunsFinishAndClaim, type ClaimedRun, type Finish } from "../store/runs.js";
import type { SlotClaim } from "../store/transitions/claim.js";
import { Batcher } from "./batcher.js";
import { FINISH_LINGER_MS, finishLinger } from "./finish-linger.js";
import type { ExecOutcome } from "../executors/types.js";
import { releaseUnstarted, UNSTARTED, writeOutcome } from "./outcome.js";
import { appliedChange } from "./applied-change.js";
import { leaseOwnership, ownerCheckAheadMs, type Ownership } from "./ownership.js";
import { ExecutorSlots } from "./executor-slots.js";
import { execContext, type OwnerState } from "./exec-context.js";
import { ownerCheckBatcher, renewLeases } from "./leases.js";
import { execKey, type Execution, type RunningSchedulerDeps, type SlotHold } from "./running-types.js";

export type { RunningSchedulerDeps, SlotHold } from "./running-types.js";

/**
 * The running scheduler: AVAILABLE → RUNNING → DONE/FAILED/CANCELED. Claims as many runs as it has free
 * executor slots (plus, while its runs are quick, `claimAhead` more that start as slots free), executes
 * them, and writes each outcome as a compare-and-set fenced by (owner, epoch): a replica that lost a run's
 * lease changes nothing.
 */
export class RunningScheduler {
  private readonly executions = new Map<string, Execution>();
  private claiming = true;
  /** Slots promised to a claim in flight (so two claims never together exceed the concurrency). */
  private reserved = 0;
  /** A claim found every free slot reserved by another in flight (see hold). */
  private claimSkipped = false;
  /** Past the drain's grace period: a run started now is aborted (and released) at once. */
  private shuttingDown = false;
  /** Past the drain's bound: executions still running are left to the sweeper, outcome writes give up. */
  private abandoned = false;
  /** Executions whose outcome is being written: their slots are free for the claim riding on that write. */
  private finishing = 0;
  /**
   * Outcomes that arrive while one is being written go out together, in one statement that also claims
   * runs for the slots they free.
   */
  private readonly finisher: Batcher<Finish, boolean>;
  /** Lease checks before target commits, batched the same way; one with most of its lease left is read, not renewed. */
  private readonly ownerCheck: Batcher<{ runId: string; epoch: number }, OwnerState>;

  private readonly ownership: Ownership;
  private readonly slots: ExecutorSlots;
  /** How soon a statement must return for the lease check sent with it to stand (ownerCheckAheadMs). */
  private readonly aheadMs: number;

  constructor(private readonly deps: RunningSchedulerDeps) {
    this.ownership = deps.ownership ?? leaseOwnership;
    this.aheadMs = ownerCheckAheadMs(deps.leaseTtlMs);
    this.slots = new ExecutorSlots(deps.concurrency, { ahead: deps.claimAhead ?? 0, quickRunMs: deps.claimAheadQuickRunMs ?? 50 });
    this.finisher = new Batcher(
      async (items) => {
        // Before the lease's `now` is read: the leases this statement takes run from no earlier than claimedAt.
        const claimedAt = performance.now();
        const now = deps.clock.now();
        // The finishing runs' slots (counted free) are free once this statement commits.
        const limit = this.claimsAllowed() ? Math.max(0, this.freeSlots()) : 0;
        this.reserved += limit;
        try {
          const { written, claimed } = await taskRunsFinishAndClaim(deps.db, items, {
            now,
            fence: this.ownership.fence,
            claim: { replicaId: deps.replicaId, limit, leaseTtlMs: deps.leaseTtlMs, now },
          });
          if (claimed.length > 0) deps.onClaim?.(claimed, now);
          for (const run of claimed) this.start(run, claimedAt);
          return items.map((i) => written.has(i.runId));
        } finally {
          this.reserved -= limit;
        }
      },
      {
        linger: () =>
          this.claimsAllowed()
            ? finishLinger(this.executions.values(), {
                ms: this.deps.finishLingerMs ?? FINISH_LINGER_MS,
                enough: this.deps.concurrency + this.slots.ahead(),
              })
            : null,
      },
    );
    this.ownerCheck = ownerCheckBatcher(deps);
  }

  get activeCount(): number {
    return this.executions.size;
  }

  /** Not draining, and the heartbeat gets through (a run claimed now could not keep its lease otherwise). */
  private claimsAllowed(): boolean {
    return this.claiming && (this.deps.mayClaim?.() ?? true);
  }

  /** Runs it may claim now: its slots and the runs it claims ahead, less what it holds and what claims in flight will bring. */
  private freeSlots(): number {
    return this.deps.concurrency + this.slots.ahead() - (this.executions.size - this.finishing) - this.reserved;
  }

  /** Claims and starts up to the free slots. Returns how many runs were claimed. */
  async runOnce(): Promise<number> {
    const hold = this.hold();
    if (!hold) return 0;
    try {
      // Read before the lease's `now`: the leases the claim takes run from no earlier than this.
      const claimedAt = performance.now();
      const runs = await taskRunsClaim(this.deps.db, { ...hold.claim, now: this.deps.clock.now() });
      hold.started(runs, claimedAt);
      return runs.length;
    } finally {
      hold.release();
    }
  }

  /**
   * Runs a create (the API's tasks/run) that may claim new runs for this replica (taskRunsCreateAndClaim):
   * `make` gets what it may claim (see hold), and the runs it claimed start here, as a claim's would. A user's
   * run that no gate can hold then starts without waiting for the NOTIFY and a claim statement. `make` reads the
   * `now` its claim's leases run from when it is called: its runs' first lease check rests on that claim.
   */
  async create<T extends { claimed: ClaimedRun[] }>(make: (claim: SlotClaim | undefined) => Promise<T>): Promise<T> {
    const hold = this.hold();
    try {
      const claimedAt = performance.now();
      const made = await make(hold?.claim);
      hold?.started(made.claimed, claimedAt);
      return made;
    } finally {
      hold?.release();
    }
  }

  /**
   * Reserves the free slots for a statement that claims runs for this replica (its own claim, the API's create,
   * a live pass's promote): undefined while it may not claim or has none free. `started` hands over the runs
   * that statement claimed, once committed; `release` gives the reservation back (once, after either).
   */
  hold(): SlotHold | undefined {
    if (!this.claimsAllowed()) return undefined;
    // Not the slots of runs whose outcome waits for the finisher: its statement refills them (finishLinger).
    const free = this.freeSlots() - this.finishing;
    if (free <= 0) {
      // Every free slot is held by another claim in flight: it looks again when that one lets go.
      if (this.reserved > 0) this.claimSkipped = true;
      return undefined;
    }
    this.reserved += free;
    const now = this.deps.clock.now();
    let held = true;
    return {
      claim: { replicaId: this.deps.replicaId, limit: free, leaseTtlMs: this.deps.leaseTtlMs },
      started: (runs, claimedAt) => {
        if (runs.length > 0) this.deps.onClaim?.(runs, now);
        for (const run of runs) this.start(run, claimedAt);
      },
      release: () => {
        if (!held) return;
        held = false;
        this.reserved -= free;
        // A claim woken meanwhile (the NOTIFY of runs made AVAILABLE comes back before the statement's reply)
        // found these slots reserved and claimed nothing: it goes again now, not at the next poll.
        if (this.claimSkipped) {
          this.claimSkipped = false;
          this.deps.onSlotFree?.();
        }
      },
    };
  }

  private start(run: ClaimedRun, claimedAt: number | undefined): void {
    const abort = new AbortController();
    const exec: Execution = { run, abort, ...(claimedAt !== undefined ? { claimedAt } : {}), done: Promise.resolve() };
    exec.done = (async () => {
      const slot = await this.slots.acquire(abort.signal);
      if (slot === "aborted" || slot === "late") {
        // Claimed ahead, and aborted or given back before a slot freed: nothing of it reached the target.
        const written = await this.persist(exec, () => (slot === "late" ? this.giveBack(exec) : this.writeOutcome(exec, UNSTARTED)));
        this.deps.onFinish?.(run, UNSTARTED, written);
        return;
      }
      exec.started = true;
      let outcome: ExecOutcome;
      try {
        outcome = await this.execute(exec);
      } finally {
        // Also when the executor throws, synchronously or not: a slot must never stay taken.
        this.slots.release(slot);
      }
      const written = await this.persist(exec, () => this.writeOutcome(exec, outcome));
      this.deps.onFinish?.(run, outcome, written);
    })()
      .catch((err) => this.deps.onError?.(err))
      .finally(() => {
        if (exec.finishing) this.finishing--;
        this.executions.delete(execKey(run));
        this.deps.onSlotFree?.();
      });
    this.executions.set(execKey(run), exec);
    if (this.shuttingDown) this.abortForShutdown(exec);
  }

  /** A run claimed ahead whose slots turned slow (executor-slots.ts): AVAILABLE again, for any replica. */
  private giveBack(exec: Execution): Promise<boolean> {
    const ended = { run: exec.run, abortReason: exec.abortReason, fence: this.ownership.fence };
    return releaseUnstarted(this.deps, ended, "claimed ahead of a free executor slot, and none freed soon: given back", "requeue");
  }

  private execute(exec: Execution): Promise<ExecOutcome> {
    const { run, abort } = exec;
    const ctx = execContext({
      ...this.deps,
      run,
      signal: abort.signal,
      ownership: this.ownership,
      aborted: () => exec.abortReason !== undefined,
      checkOwner: (x) => this.ownerCheck.push(x),
      aheadMs: this.aheadMs,
      ...(exec.claimedAt !== undefined ? { claimedAt: exec.claimedAt } : {}),
      onCanceled: () => this.abortForCancel(exec),
    });
    return this.deps.executorFor(run.type).execute(run, ctx);
  }

  /**
   * Writes an execution's outcome. A write that fails (the control database unreachable, a dropped
   * connection) is not the end: the outcome is kept and written again with a capped backoff, while the
   * execution stays in `executions` so the heartbeat keeps renewing its lease. It stops when written, or
   * when the fence says no (false), or once the heartbeat found the run lost — then the sweeper decides.
   */
  private async persist(exec: Execution, write: () => Promise<boolean>): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      if (exec.abortReason === "lost" || this.abandoned) return false;
      try {
        return await write();
      } catch (err) {
        this.deps.onError?.(err);
        if (exec.finishing) {
          // Not being written now: the slot is busy again until the next try.
          exec.finishing = false;
          this.finishing--;
        }
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 5000)));
      }
    }
  }

  private writeOutcome(exec: Execution, outcome: ExecOutcome): Promise<boolean> {
    const { run } = exec;
    return writeOutcome(this.deps, { run, abortReason: exec.abortReason, fence: this.ownership.fence }, outcome, (f) => {
      exec.finishing = true;
      this.finishing++;
      // A DONE versioned change goes into its database's ledger snapshot in the same statement: whoever
      // sees the run DONE finds it there too.
      const applied = f.status === "DONE" ? appliedChange(run) : null;
      return this.finisher.push({ runId: run.id, replicaId: this.deps.replicaId, epoch: run.epoch, ...f, applied });
    });
  }

  /** Aborts the given runs if this replica executes them (cancel requested through any replica). */
  cancel(runIds: Iterable<string>): void {
    const ids = new Set(runIds);
    for (const e of this.executions.values()) if (ids.has(e.run.id)) this.abortForCancel(e);
  }

  private abortForCancel(e: Execution): void {
    if (e.abortReason) return;
    e.abortReason = "cancel";
    e.abort.abort("cancel requested");
  }

  /** The heartbeat's renewal of every lease this replica executes under (leases.ts, renewLeases). */
  renewOnce(): Promise<void> {
    return renewLeases(this.deps, this.ownership, [...this.executions.values()], (e) => this.abortForCancel(e));
  }

  /**
   * Stops claiming; waits up to `graceMs` for executions, then aborts and releases the rest. Returns
   * within grace + `abortBoundMs` even when an execution ignores its abort (a silent target): such a run
   * is left RUNNING — a session of it may still be alive — and, its lease no longer renewed, the sweeper
   * settles it on the target. Outcome writes still being retried then give up the same way.
   */
  async drain(graceMs: number, abortBoundMs = 5000): Promise<void> {
    this.claiming = false;
    // Runs claimed ahead go back at once: other replicas can start them now.
    for (const e of this.executions.values()) if (!e.started) this.abortForShutdown(e);
    if (await this.settled(graceMs)) return;
    this.shuttingDown = true;
    for (const e of this.executions.values()) this.abortForShutdown(e);
    if (await this.settled(abortBoundMs)) return;
    this.abandoned = true;
    const left = [...this.executions.values()].map((e) => e.run.id);
    this.deps.onError?.(
      new Error(`drain: run(s) ${left.join(", ")} did not end within ${abortBoundMs} ms of their abort; left to the sweeper`),
    );
  }

  /** Whether every execution ended within `ms` (including runs a finish in flight claimed meanwhile). */
  private async settled(ms: number): Promise<boolean> {
    const all = async () => {
      while (this.executions.size > 0) await Promise.all([...this.executions.values()].map((e) => e.done));
    };
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([all().then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
    clearTimeout(timer);
    return done;
  }

  private abortForShutdown(e: Execution): void {
    if (!e.abortReason) {
      e.abortReason = "shutdown";
      e.abort.abort("replica shutting down");
    }
  }
}
