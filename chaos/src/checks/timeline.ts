import type { CheckResult, JournalRow } from "../facts.js";
import { SEQUENTIAL_TYPES, compareVersions } from "../workload.js";
import { iso, push, type CheckContext } from "./context.js";

/** A statement's execution on its target: from its first statement to its COMMIT (target clock). */
const start = (j: JournalRow) => j.startedAt.getTime();
const end = (j: JournalRow) => j.committedAt!.getTime();
const label = (j: JournalRow) => `${j.marker} (run ${j.runId}, ${j.replica}) ${iso(j.startedAt)}–${iso(j.committedAt!)}`;

/** 3. Mutual exclusion: no two sequential statements on one database overlap in time. */
export function checkExclusion(c: CheckContext): CheckResult {
  const v: string[] = [];
  const byDb = new Map<string, JournalRow[]>();
  for (const j of c.committed) {
    const task = c.taskOfJournal(j);
    if (task && SEQUENTIAL_TYPES.has(task.type)) push(byDb, j.db, j);
  }
  let n = 0;
  for (const [db, rows] of byDb) {
    rows.sort((a, b) => start(a) - start(b));
    n += rows.length;
    let last: JournalRow | undefined;
    for (const j of rows) {
      if (last && start(j) < end(last)) v.push(`${db}: ${label(last)} overlaps ${label(j)}`);
      if (!last || end(j) > end(last)) last = j;
    }
  }
  return { name: "3. Mutual exclusion", ok: v.length === 0, detail: `${n} sequential statements on ${byDb.size} databases`, violations: v };
}

/** 4. Parallel limit: at no instant do more statements of a rollout execute than its project's limit. */
export function checkParallelLimit(c: CheckContext): CheckResult {
  const v: string[] = [];
  const byRollout = new Map<string, JournalRow[]>();
  for (const j of c.committed) {
    const task = c.taskOfJournal(j);
    if (task) push(byRollout, task.rolloutId, j);
  }
  const peaks: string[] = [];
  for (const [rolloutId, rows] of byRollout) {
    const limit = c.taskById.get(c.s.taskIdByKey.get(rows[0]!.marker)!)!.limit;
    // Sweep line; at equal times an end comes before a start (touching intervals do not overlap).
    const points = rows
      .flatMap((j) => [
        { t: start(j), d: 1, j },
        { t: end(j), d: -1, j },
      ])
      .sort((a, b) => a.t - b.t || a.d - b.d);
    let now = 0,
      peak = 0;
    const open = new Set<JournalRow>();
    for (const p of points) {
      now += p.d;
      if (p.d > 0) open.add(p.j);
      else open.delete(p.j);
      if (now > peak) {
        peak = now;
        if (limit > 0 && now > limit)
          v.push(`rollout ${rolloutId} (limit ${limit}): ${now} executing at ${iso(p.t)}: ${[...open].map((j) => j.marker).join(", ")}`);
      }
    }
    if (limit > 0) peaks.push(`${peak}/${limit}`);
  }
  return {
    name: "4. Parallel limit",
    ok: v.length === 0,
    detail: `${byRollout.size} rollouts; peak/limit ${[...new Set(peaks)].sort().join(" ") || "n/a"}`,
    violations: v,
  };
}

/** 5. Version order: on each database, versioned changes committed in ascending version order. */
export function checkVersionOrder(c: CheckContext): CheckResult {
  const v: string[] = [];
  const byDb = new Map<string, { j: JournalRow; version: string }[]>();
  for (const j of c.committed) {
    const plan = c.planByTaskId.get(c.s.taskIdByKey.get(j.marker) ?? "");
    if (!plan?.schemaVersion) continue;
    if (j.schemaVersion !== plan.schemaVersion) v.push(`${j.marker}: ledger has version ${j.schemaVersion}, planned ${plan.schemaVersion}`);
    push(byDb, j.db, { j, version: plan.schemaVersion });
  }
  let n = 0;
  for (const [db, rows] of byDb) {
    rows.sort((a, b) => end(a.j) - end(b.j));
    n += rows.length;
    for (let i = 1; i < rows.length; i++) {
      const a = rows[i - 1]!,
        b = rows[i]!;
      if (compareVersions(a.version, b.version) > 0)
        v.push(`${db}: version ${a.version} (${a.j.marker}) committed before ${b.version} (${b.j.marker})`);
    }
  }
  return { name: "5. Version order", ok: v.length === 0, detail: `${n} versioned changes on ${byDb.size} databases`, violations: v };
}

/** Extra: a scheduled run is never claimed before its run-at time. */
export function checkRunAt(c: CheckContext): CheckResult {
  const v: string[] = [];
  let n = 0;
  for (const r of c.facts.runs) {
    if (!r.runAt) continue;
    n++;
    for (const claim of c.claimsByRun.get(r.id) ?? []) {
      if (claim.at.getTime() < r.runAt.getTime()) v.push(`run ${r.id} claimed at ${iso(claim.at)} before its run-at ${iso(r.runAt)}`);
    }
  }
  return { name: "+ Run-at respected", ok: v.length === 0, detail: `${n} scheduled runs`, violations: v };
}
