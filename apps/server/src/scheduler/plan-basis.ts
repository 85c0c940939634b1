/**
 * When a replica's pass session must drop its cached plans (issue 19, docs/benchmarks.md §8, "plans made
 * for an empty table").
 *
 * A live pass's statements run on generic plans (PASS_PLAN_MODE), made once per session at their first
 * execution and kept. PostgreSQL costs a generic plan by the tables' sizes at that moment, and a table
 * ANALYZE found empty (autovacuum does, on a system at rest) that still has no page is costed at nothing: the
 * live read then scans `task_run_wait` once for every freed database. Nothing re-plans when the table grows;
 * only an ANALYZE of it (autovacuum's, a minute or more later) or a new session does. So a large rollout
 * submitted to an idle system drained at ~47 runs/s instead of ~2,500 for minutes, its live passes taking
 * 4–8 s each. Each pass reads the sizes of the tables its plans read, and the session they are on; when one
 * has grown several times over since the plans were made, the session's plans are discarded (DISCARD PLANS)
 * and made afresh at their next execution, costed at the sizes of now.
 */

/** The sizes (bytes of the main fork) of the tables a pass's plans read, on the session that made them. */
export interface PlanBasis {
  session: number;
  sizes: readonly number[];
}

/** How many times over a table must grow before the plans made for its old size are dropped. */
export const PLAN_GROWTH = 4;
/**
 * Sizes below this count as this: growing from nothing to a few pages does not re-plan. A scan of 8 pages
 * (~600 causes) for each freed database costs a live pass well under a millisecond; at 4 × 8 pages it re-plans.
 */
export const PLAN_FLOOR_BYTES = 64 * 1024;

/**
 * keep: the plans fit; replan: discard them (then `now` is the basis); rebase: `now` is the basis, nothing to
 * discard (the first pass, or a new session: its plans are made from now on).
 */
export function planFreshness(basis: PlanBasis | undefined, now: PlanBasis): "keep" | "replan" | "rebase" {
  if (basis === undefined || basis.session !== now.session || basis.sizes.length !== now.sizes.length) return "rebase";
  const outgrown = now.sizes.some((size, i) => size >= PLAN_GROWTH * Math.max(basis.sizes[i]!, PLAN_FLOOR_BYTES));
  return outgrown ? "replan" : "keep";
}

/**
 * The tables (indexes into PLAN_TABLES) to ANALYZE now: those whose size is PLAN_GROWTH times what their
 * statistics count (and at least PLAN_GROWTH × PLAN_FLOOR_BYTES), unless this replica already asked at a size
 * that the table has not since outgrown as many times (`tried`: a role that may not analyze keeps its old
 * statistics, and asking every pass would cost every pass). Every session's statements benefit, the running
 * scheduler's finish included (issue 19, docs/benchmarks.md §8: 3× slower after a quiet period until an ANALYZE).
 */
export function statsOutgrown(sizes: readonly number[], statBytes: readonly number[], tried: readonly number[]): number[] {
  const out: number[] = [];
  sizes.forEach((size, i) => {
    const counted = Math.max(statBytes[i] ?? 0, PLAN_FLOOR_BYTES);
    const asked = Math.max(tried[i] ?? 0, PLAN_FLOOR_BYTES);
    if (size >= PLAN_GROWTH * counted && size >= PLAN_GROWTH * asked) out.push(i);
  });
  return out;
}
