import type { ClaimedRun } from "../../src/store/runs.js";
import type { ExecContext, ExecOutcome, Executor } from "../../src/executors/types.js";

/**
 * An executor whose runs finish only when the test says so (graphile-worker's deferred style), so tests
 * can hold runs RUNNING while other replicas get their chance to interfere.
 */
export class DeferredExecutor implements Executor {
  readonly started: ClaimedRun[] = [];
  private readonly waiting = new Map<string, (o: ExecOutcome) => void>();
  private readonly startWaiters: (() => void)[] = [];

  execute(run: ClaimedRun, ctx: ExecContext): Promise<ExecOutcome> {
    this.started.push(run);
    for (const w of this.startWaiters.splice(0)) w();
    return new Promise((resolve) => {
      this.waiting.set(run.id, resolve);
      ctx.signal.addEventListener("abort", () =>
        resolve({ status: "CANCELED", result: { reason: String(ctx.signal.reason) }, message: "aborted" }),
      );
    });
  }

  finish(runId: string, outcome: ExecOutcome = { status: "DONE", result: {}, message: "ok" }): void {
    const r = this.waiting.get(runId);
    if (!r) throw new Error(`run ${runId} is not executing here`);
    this.waiting.delete(runId);
    r(outcome);
  }

  finishAll(): void {
    for (const id of [...this.waiting.keys()]) this.finish(id);
  }

  get executing(): string[] {
    return [...this.waiting.keys()];
  }
}
