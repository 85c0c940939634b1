import type { CheckResult, JournalRow } from "../facts.js";
import { SEQUENTIAL_TYPES } from "../workload.js";
import { iso, type CheckContext } from "./context.js";

/**
 * No gate freed early: no sequential statement begins on a database while another sequential statement's
 * transaction is still open there — committed later, rolled back, fenced, or never heard of again by its
 * owner. Each sequential statement holds a shared transaction-level advisory lock and, as it begins, lists
 * the other holders from pg_locks (chaos_begin in statements.ts): the observation is made by the database
 * at that instant, not sampled. A list on a committed journal row names the open sessions; an attempt
 * that rolled back loses its row, but not its count (`overlapsSeen`, a sequence). A "cic" task (CREATE
 * INDEX CONCURRENTLY on an expression that sleeps: a sequential change outside any transaction, which
 * recovery never re-runs) is seen by the statements that begin while it executes (its session is
 * `active`), and counts itself when it runs beside an older open transaction (`cicOverlapsSeen`).
 *
 * Invariant 3 compares committed [start, commit] intervals; this one also sees the sessions that never
 * committed, which is where a sweeper that frees a database too early shows.
 */
export function findEarlyGates(
  sequential: JournalRow[],
  overlapsSeen: number,
  cicOverlapsSeen = 0,
): { violations: string[]; withDetail: number } {
  const v: string[] = [];
  let withDetail = 0;
  for (const j of sequential) {
    if (!j.overlaps?.length) continue;
    withDetail++;
    const open = j.overlaps.map(
      (o) => `pid ${o.pid} "${o.app ?? "?"}" (${o.state ?? "?"}${o.xactStart ? `, transaction since ${iso(new Date(o.xactStart))}` : ""})`,
    );
    v.push(
      `${j.db}: ${j.marker} (run ${j.runId} epoch ${j.epoch}, ${j.replica}, pid ${j.pid ?? "?"}) began at ${iso(j.startedAt)} while ${open.join(" and ")} was still open`,
    );
  }
  if (overlapsSeen > withDetail) {
    v.push(
      `${overlapsSeen - withDetail} more sequential statement(s) began beside an open sequential transaction and then rolled back (a rollback keeps only the count)`,
    );
  }
  if (cicOverlapsSeen > 0) {
    v.push(
      `${cicOverlapsSeen} non-transactional schema change(s) (CREATE INDEX CONCURRENTLY) ran while a sequential transaction that began before them was still open`,
    );
  }
  return { violations: v, withDetail };
}

export function checkNoEarlyGate(c: CheckContext): CheckResult {
  const sequential = c.committed.filter((j) => {
    const t = c.taskOfJournal(j);
    return t !== undefined && SEQUENTIAL_TYPES.has(t.type);
  });
  const seen = c.facts.overlapsSeen ?? 0;
  const cic = c.facts.cicOverlapsSeen ?? 0;
  const r = findEarlyGates(sequential, seen, cic);
  return {
    name: "9. No gate freed early",
    ok: r.violations.length === 0,
    detail: `${sequential.length} sequential statements looked for open sequential sessions as they began; ${seen + cic} found one`,
    violations: r.violations,
  };
}
