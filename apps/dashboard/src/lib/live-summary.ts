import type { StatusCounts } from "@/api/types";

/** Statuses whose growth is worth announcing, in the order they are read out. */
export const ANNOUNCED = ["DONE", "FAILED", "RUNNING", "CANCELED", "SKIPPED"] as const;
export type Announced = (typeof ANNOUNCED)[number];

/**
 * What changed between two snapshots of a rollout's counts: how many more tasks are in each announced
 * status ("3 finished, 1 failed"). Decreases are not news (a task moving on is counted where it arrives).
 */
export function countIncreases(before: StatusCounts, after: StatusCounts): Partial<Record<Announced, number>> {
  const out: Partial<Record<Announced, number>> = {};
  for (const s of ANNOUNCED) {
    const d = after[s] - before[s];
    if (d > 0) out[s] = d;
  }
  return out;
}

/** Adds a later increase to one not yet announced. */
export function addIncreases(
  a: Partial<Record<Announced, number>>,
  b: Partial<Record<Announced, number>>,
): Partial<Record<Announced, number>> {
  const out = { ...a };
  for (const s of ANNOUNCED) if (b[s]) out[s] = (out[s] ?? 0) + b[s];
  return out;
}
