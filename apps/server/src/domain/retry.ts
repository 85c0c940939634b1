/** Backoff after an unreachable target: 1 s, doubling per failed attempt, capped at 60 s. */
export function retryDelayMs(failedBefore: number): number {
  return Math.min(1000 * 2 ** Math.max(0, failedBefore), 60_000);
}
