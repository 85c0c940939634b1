import { loadConfig } from "../../src/config.js";
import { Listener } from "../../src/db/listener.js";
import { SchedulerRuntime, type RuntimeConfig, type RuntimeDeps } from "../../src/scheduler/runtime.js";
import type { Db } from "../../src/store/db.js";
import { PostgresExecutor } from "../../src/executors/postgres.js";
import { RunningScheduler, type RunningSchedulerDeps } from "../../src/scheduler/running-scheduler.js";
import type { Executor } from "../../src/executors/types.js";

const quiet = { info: () => undefined, error: () => undefined };

/**
 * A replica's scheduler loops in this process, with its own LISTEN connection: the default Config with
 * `config` on top. `stop()` drains and closes the connection.
 */
export async function startRuntime(
  p: { db: Db; url: string; config: Partial<RuntimeConfig> & { replicaId: string } } & Omit<
    RuntimeDeps,
    "db" | "listener" | "log" | "clock" | "reconciler"
  > &
    Partial<Pick<RuntimeDeps, "log" | "clock" | "reconciler">>,
): Promise<{ runtime: SchedulerRuntime; stop: (graceMs?: number) => Promise<void> }> {
  const listener = new Listener(p.url);
  const { db, url: _url, config, ...deps } = p;
  // Without one given: the production reconciler, on its own bounded target connections (closed at stop).
  const own = deps.reconciler ? undefined : new PostgresExecutor({ statementTimeoutMs: 60_000 });
  const runtime = new SchedulerRuntime(
    { ...loadConfig({}, []), ...config },
    { clock: { now: () => new Date() }, log: quiet, reconciler: own!, ...deps, db, listener },
  );
  await listener.start();
  await runtime.start();
  return {
    runtime,
    stop: async (graceMs = 1000) => {
      await runtime.drain(graceMs);
      await listener.close();
      await own?.close();
    },
  };
}

/**
 * A running scheduler alone, replica "r" (unless `deps` say otherwise) with a minute's lease and no runs claimed
 * ahead of its `concurrency` slots, executing with `exec`.
 */
export function runningScheduler(db: Db, exec: Executor, concurrency: number, deps: Partial<RunningSchedulerDeps> = {}): RunningScheduler {
  return new RunningScheduler({
    db,
    clock: { now: () => new Date() },
    replicaId: "r",
    concurrency,
    claimAhead: 0,
    leaseTtlMs: 60_000,
    executorFor: () => exec,
    ...deps,
  });
}
