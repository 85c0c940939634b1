import type { CheckResult, TaskRow } from "../facts.js";
import { stuckBoundMs } from "../options.js";
import { compareVersions } from "../workload.js";
import { iso, push, type CheckContext } from "./context.js";

const FINAL = new Set(["DONE", "FAILED", "CANCELED", "SKIPPED"]);

/** What the no-stuck-run check reads; plain data, so crafted cases can test it (test/checks.unit.ts). */
export interface StuckInput {
  runs: { id: string; taskId: string; status: string }[];
  /** STATUS entries of task_run_log (time order not required). */
  statusLog: { runId: string; at: number; status: string; epoch?: number; replica: string | null }[];
  /** While a fault that stops every replica lasted (harness clock); one not healed yet counts until `healedAt`. */
  faults: { at: number; endedAt: number }[];
  /** When the fault window ended and everything was healed. */
  healedAt: number;
  /** When the facts were read (the end of quiescence). */
  endedAt: number;
  boundMs: number;
  /** PENDING runs that may wait for good: held by a version that can never be DONE (correct behaviour). */
  heldForGood: Set<string>;
  /** Waiting causes at the end, for the report. */
  waits?: Map<string, string>;
}

/** Time in [a, b] outside every fault interval. */
export function faultFreeMs(a: number, b: number, faults: { at: number; endedAt: number }[], healedAt: number): number {
  if (b <= a) return 0;
  const iv = faults.map((f) => [f.at, f.endedAt > 0 ? f.endedAt : Math.max(healedAt, f.at)] as const).sort((x, y) => x[0] - y[0]);
  let covered = 0;
  let curS = -Infinity,
    curE = -Infinity;
  const flush = () => {
    if (curE > curS) covered += Math.max(0, Math.min(curE, b) - Math.max(curS, a));
  };
  for (const [s, e] of iv) {
    if (s > curE) {
      flush();
      curS = s;
      curE = e;
    } else curE = Math.max(curE, e);
  }
  flush();
  return b - a - covered;
}

/**
 * No stuck run: a claim (RUNNING at some epoch) ends within the bound — the run reaches a final status,
 * goes back to the queue, or is claimed again — counting only fault-free time; and no run is left
 * PENDING, AVAILABLE or RUNNING at the end, except PENDING runs held by a version that can never be DONE.
 * Waiting for a slot or a gate is not a claim, so a backlog is not mistaken for a stuck run.
 */
export function findStuckRuns(x: StuckInput): { violations: string[]; claims: number; longestMs: number } {
  const v: string[] = [];
  const byRun = new Map<string, StuckInput["statusLog"]>();
  for (const l of x.statusLog) push(byRun, l.runId, l);
  let claims = 0,
    longestMs = 0;
  for (const r of x.runs) {
    const log = (byRun.get(r.id) ?? []).sort((a, b) => a.at - b.at);
    log.forEach((l, i) => {
      if (l.status !== "RUNNING") return;
      claims++;
      const next = log[i + 1];
      const until = next ? next.at : FINAL.has(r.status) ? l.at : x.endedAt;
      const ms = faultFreeMs(l.at, until, x.faults, x.healedAt);
      longestMs = Math.max(longestMs, ms);
      if (ms > x.boundMs) {
        const how = next ? `until it became ${next.status} at ${iso(next.at)}` : `and was still ${r.status} at the end`;
        v.push(
          `run ${r.id}: claim of epoch ${l.epoch ?? "?"} by ${l.replica ?? "?"} at ${iso(l.at)} lasted ${(ms / 1000).toFixed(1)} s of fault-free time ${how} (bound ${(x.boundMs / 1000).toFixed(1)} s)`,
        );
      }
    });
    if (!FINAL.has(r.status) && r.status !== "RUNNING" && !x.heldForGood.has(r.id)) {
      const last = log[log.length - 1];
      const wait = x.waits?.get(r.id);
      v.push(
        `run ${r.id} (task ${r.taskId}) is still ${r.status}${wait ? ` (waiting: ${wait})` : ""} at the end, ${((x.endedAt - x.healedAt) / 1000).toFixed(0)} s after the faults healed${last ? `; last change ${last.status} at ${iso(last.at)}` : ""}`,
      );
    }
  }
  // A cause belongs to a PENDING run. Every run has settled here, and every cancel's mark was taken by a pass
  // before the quiet polls ended, so a cause left for any other run is one a pass committed after the cancel
  // deleted what it could see, and nothing removed (docs/scheduler.md).
  const statusOf = new Map(x.runs.map((r) => [r.id, r.status]));
  for (const [runId, wait] of x.waits ?? []) {
    const status = statusOf.get(runId);
    if (status !== "PENDING") v.push(`run ${runId} is ${status ?? "unknown"} but still has a waiting cause: ${wait}`);
  }
  return { violations: v, claims, longestMs };
}

/** PENDING runs of versioned tasks behind a lower version on the same database that ended not DONE. */
export function heldForGood(tasks: TaskRow[], runs: { id: string; taskId: string; status: string }[]): Set<string> {
  const deadVersions = new Map<string, string[]>();
  for (const t of tasks)
    if (t.schemaVersion && (t.status === "FAILED" || t.status === "CANCELED")) push(deadVersions, t.database, t.schemaVersion);
  const taskById = new Map(tasks.map((t) => [t.id, t]));
  const out = new Set<string>();
  for (const r of runs) {
    const t = taskById.get(r.taskId);
    if (r.status !== "PENDING" || !t?.schemaVersion) continue;
    if ((deadVersions.get(t.database) ?? []).some((dv) => compareVersions(dv, t.schemaVersion!) < 0)) out.add(r.id);
  }
  return out;
}

/** The invariant over a chaos run's facts. */
export function checkNoStuckRun(c: CheckContext): CheckResult {
  const bound = stuckBoundMs(c.o);
  const healedAt = c.harness.healedAt ?? Date.now();
  const endedAt = c.harness.readAt ?? Date.now();
  const statusLog = c.facts.logs
    .filter((l) => l.type === "STATUS" && l.payload.status)
    .map((l) => ({ runId: l.runId, at: l.at.getTime(), status: l.payload.status!, epoch: l.payload.epoch, replica: l.replica }));
  const held = heldForGood(c.facts.tasks, c.facts.runs);
  // Only faults that stop everyone pause the clock (the target path, a PostgreSQL restart). A fault of one
  // replica (kill, freeze, its control path, its clock) leaves others to take its runs over within the
  // lease and a sweep, which the bound already allows for.
  const systemWide = c.harness.faults.filter((f) => f.replica === "*");
  const r = findStuckRuns({
    runs: c.facts.runs,
    statusLog,
    faults: systemWide,
    healedAt,
    endedAt,
    boundMs: bound,
    heldForGood: held,
    waits: c.facts.waits,
  });
  // Runs made RUNNING by the API's create for the replica serving it, and by a live pass's promote for the
  // pass's replica, rather than by a claim (docs/scheduler.md, "…and may skip AVAILABLE").
  const claimsBy = (by: string) =>
    c.facts.logs.filter((l) => l.type === "STATUS" && l.payload.status === "RUNNING" && l.payload.by === by).length;
  const inCreate = claimsBy("api");
  const inPass = claimsBy("pending-scheduler");
  return {
    name: "8. No stuck run",
    ok: r.violations.length === 0,
    detail: `${r.claims} claims (${inCreate} in the API's create, ${inPass} in a pass's promote); longest ${(r.longestMs / 1000).toFixed(1)} s of fault-free time, bound ${(bound / 1000).toFixed(1)} s (lease + sweep + retry window + 2 s)${held.size ? `; ${held.size} runs held for good behind a failed version` : ""}`,
    violations: r.violations,
  };
}
