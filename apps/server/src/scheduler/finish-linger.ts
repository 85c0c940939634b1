import type { Linger } from "./batcher.js";
import type { Execution } from "./running-types.js";

/** RunningSchedulerDeps.finishLingerMs's default. */
export const FINISH_LINGER_MS = 4;

/**
 * How long an outcome may wait for others to share its finish statement (the finisher's linger), or null:
 * write it now. A finish statement costs ~1.5 ms of PostgreSQL time however few runs it writes; with SELECT 1
 * on a target, 10 slots wrote ~9 outcomes a statement (issue 19, docs/benchmarks.md §8).
 *
 * Only while runs claimed ahead wait for a slot: the executors have work meanwhile, so no run starts later
 * for the wait (the slots the finish refills are its own, RunningScheduler.hold). And only while runs execute
 * that could join it. It ends early once `enough` outcomes are queued: every slot and run claimed ahead.
 */
export function finishLinger(executions: Iterable<Execution>, p: { ms: number; enough: number }): Linger | null {
  if (p.ms <= 0) return null;
  let waiting = 0;
  let executing = 0;
  for (const e of executions) {
    if (e.abortReason || e.finishing) continue;
    if (e.started) executing++;
    else waiting++;
  }
  return waiting > 0 && executing > 0 ? { ms: p.ms, enough: p.enough } : null;
}
