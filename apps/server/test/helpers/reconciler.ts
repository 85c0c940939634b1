import { afterAll } from "vitest";
import { PostgresExecutor } from "../../src/executors/postgres.js";
import type { TargetReconciler } from "../../src/executors/types.js";

/**
 * The production reconciler (the executor's own, on its bounded target connections) for tests that run a
 * sweeper or a runtime: one per test file, closed after it. Test instances store plain connection URLs.
 */
export function useReconciler(): TargetReconciler {
  const executor = new PostgresExecutor({ statementTimeoutMs: 60_000 });
  afterAll(() => executor.close());
  return executor;
}
