import type { TaskType } from "@runway/shared";
import { type ClaimedRun, createDb, createPassDb, createPool, type Db } from "@runway/server/store";
import { ControlClock, Listener, type PassResult, SchedulerRuntime } from "@runway/server/scheduler";
import { PostgresExecutor, type ExecContext, type ExecOutcome, type Executor } from "@runway/server/executors";

/** Executes nothing: measures the scheduler alone (claim, finish, gating), as an injected library executor. */
export class NoopExecutor implements Executor {
  constructor(private readonly onStart?: (run: ClaimedRun) => void) {}

  async execute(run: ClaimedRun, _ctx: ExecContext): Promise<ExecOutcome> {
    this.onStart?.(run);
    return { status: "DONE", result: {}, message: "no-op" };
  }
}

export interface Replicas {
  runtimes: SchedulerRuntime[];
  dbs: Db[];
  stop(): Promise<void>;
}

/**
 * `count` replicas in this process, each a SchedulerRuntime with its own pool, LISTEN connection and
 * replica id, exactly as separate processes would have (they share only this process's event loop).
 */
export async function startReplicas(p: {
  url: string;
  count: number;
  concurrency: number;
  executorFor: (replica: number) => (type: TaskType) => Executor;
  pollIntervalMs?: number;
  onPass?: (r: PassResult) => void;
  /** A pass that found the lock held (another replica's pass): counted to show what the waits cost. */
  onLockHeld?: () => void;
}): Promise<Replicas> {
  const runtimes: SchedulerRuntime[] = [];
  const dbs: Db[] = [];
  const listeners: Listener[] = [];
  // Settles runs of a lost owner (rare in a benchmark): the production reconciler, on its own connections.
  const reconciler = new PostgresExecutor({ statementTimeoutMs: 60_000 });
  const quiet = { info: () => undefined, error: (o: object, msg?: string) => console.error(msg ?? "error", o) };
  for (let i = 0; i < p.count; i++) {
    const replicaId = `bench-${i + 1}`;
    // concurrency + room for the pending pass, heartbeats and the executor's fenced writes.
    const db = createDb(createPool(p.url, p.concurrency + 4, `runway ${replicaId}`));
    const passDb = createPassDb(p.url, `runway ${replicaId} pass`);
    const listener = new Listener(p.url);
    listeners.push(listener);
    const runtime = new SchedulerRuntime(
      {
        replicaId,
        concurrency: p.concurrency,
        // BENCH_CLAIM_AHEAD: runs claimed ahead of free slots (default RUNWAY_CLAIM_AHEAD's: twice the concurrency).
        ...(process.env.BENCH_CLAIM_AHEAD ? { claimAhead: Number(process.env.BENCH_CLAIM_AHEAD) } : {}),
        pollIntervalMs: p.pollIntervalMs ?? 1000,
        leaseTtlMs: 15_000,
        heartbeatIntervalMs: 3000,
        sweepIntervalMs: 2000,
        fullPassIntervalMs: 300_000,
        targetRetryMs: 600_000,
      },
      {
        db,
        // As a replica has: its passes on a session of their own (RuntimeDeps.passDb).
        passDb,
        clock: ControlClock.of(db),
        listener,
        executorFor: p.executorFor(i),
        reconciler,
        log: quiet,
        ...(p.onPass ? { onPass: p.onPass } : {}),
        ...(p.onLockHeld ? { onLockHeld: p.onLockHeld } : {}),
      },
    );
    await listener.start();
    runtimes.push(runtime);
    dbs.push(db, passDb);
  }
  // Together, as a deploy starts a fleet: each registers, then runs its loops. One after another, each
  // replica registered after the one before had begun its first full pass, and ran its own (firstPassFull).
  await Promise.all(runtimes.map((r) => r.start()));
  return {
    runtimes,
    dbs,
    async stop() {
      await Promise.all(runtimes.map((r) => r.drain(5000)));
      await Promise.all(listeners.map((l) => l.close()));
      await Promise.all(dbs.map((d) => d.destroy()));
      await reconciler.close();
    },
  };
}
