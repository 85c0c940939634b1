import type { Submitted } from "../driver.js";
import type { Facts, HarnessLog, JournalRow, LogRow, RunRow, TaskRow } from "../facts.js";
import type { ChaosOptions } from "../options.js";
import type { PlannedTask, Workload } from "../workload.js";

/** Everything a check reads, with the lookups several checks share. */
export class CheckContext {
  readonly taskById: Map<string, TaskRow>;
  readonly runById: Map<string, RunRow>;
  readonly runsByTask = new Map<string, RunRow[]>();
  readonly planByTaskId = new Map<string, PlannedTask>();
  /** Journal rows of committed transactions (a rolled-back attempt leaves none). */
  readonly committed: JournalRow[];
  readonly committedByMarker = new Map<string, JournalRow[]>();
  readonly logsByRun = new Map<string, LogRow[]>();
  readonly claimsByRun = new Map<string, { epoch: number; replica: string; at: Date }[]>();

  constructor(
    readonly o: ChaosOptions,
    readonly w: Workload,
    readonly s: Submitted,
    readonly facts: Facts,
    readonly harness: HarnessLog,
  ) {
    this.taskById = new Map(facts.tasks.map((t) => [t.id, t]));
    this.runById = new Map(facts.runs.map((r) => [r.id, r]));
    for (const r of facts.runs) push(this.runsByTask, r.taskId, r);
    for (const t of w.tasks) this.planByTaskId.set(s.taskIdByKey.get(t.key)!, t);
    this.committed = facts.journal.filter((j) => j.committedAt !== null);
    for (const j of this.committed) push(this.committedByMarker, j.marker, j);
    for (const l of facts.logs) {
      push(this.logsByRun, l.runId, l);
      if (l.type === "STATUS" && l.payload.status === "RUNNING" && l.replica) {
        push(this.claimsByRun, l.runId, { epoch: Number(l.payload.epoch), replica: l.replica, at: l.at });
      }
    }
  }

  /** The latest run of a task (highest attempt). */
  latestRun(taskId: string): RunRow | undefined {
    const runs = this.runsByTask.get(taskId) ?? [];
    return runs.reduce<RunRow | undefined>((a, r) => (!a || r.attempt > a.attempt ? r : a), undefined);
  }

  /** The task a journal row belongs to, by its marker. */
  taskOfJournal(j: JournalRow): TaskRow | undefined {
    const id = this.s.taskIdByKey.get(j.marker);
    return id ? this.taskById.get(id) : undefined;
  }
}

export function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

export const iso = (d: Date | number) => new Date(d).toISOString().slice(11, 23);

/** Caps a violation list for printing; the JSON report keeps all. */
export function summarize(violations: string[], max = 5): string[] {
  return violations.length <= max ? violations : [...violations.slice(0, max), `… and ${violations.length - max} more`];
}
