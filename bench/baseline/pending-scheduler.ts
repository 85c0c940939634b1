import { isSequentialTaskType } from "@runway/shared";
import type { BaselineRun, BaselineStore, BaselineTask } from "./store.js";

/**
 * A port of the reference plan's pending scheduler (available-status-plan.md, Task 5) on Runway's schema:
 * the baseline `pnpm bench` compares ours with. Kept faithful on purpose, flaws included: every pass lists
 * all PENDING runs and evaluates each with its own lookups (task; version blockers; every AVAILABLE/RUNNING
 * run and, one by one, its task; plan; project; the rollout's active runs), with no cache and no
 * transaction. Waiting causes go to an in-memory map, as in the reference (`TaskRunSchedulerInfo`), which
 * spares the baseline the writes our full pass makes. Not for production use.
 */

export type BaselineCause =
  { type: "VERSION_ORDER"; taskId: string } | { type: "DATABASE_BUSY"; taskId: string } | { type: "PARALLEL_LIMIT" };

export interface BaselinePassResult {
  /** PENDING runs listed at the start of the pass. */
  pending: number;
  evaluated: number;
  promoted: number;
  errors: number;
  statements: number;
  /** False when the deadline stopped the pass before every run was evaluated. */
  finished: boolean;
  ms: number;
}

const dbKey = (t: BaselineTask) => `${t.instanceId}/${t.databaseName}`;
const isSequentialTask = (t: BaselineTask) => isSequentialTaskType(t.type);

export class BaselinePendingScheduler {
  /** The reference's `stateCfg.TaskRunSchedulerInfo`. */
  readonly causes = new Map<string, BaselineCause>();

  constructor(
    private readonly store: BaselineStore,
    private readonly opts: { now: () => Date; replicaId: string },
  ) {}

  /** `schedulePendingTaskRuns`. Stops between runs once `deadline` (performance.now() ms) passes. */
  async runOnce(deadline = Infinity): Promise<BaselinePassResult> {
    const t0 = performance.now();
    const before = this.store.statements;
    const taskRuns = await this.store.listTaskRuns({ statuses: ["PENDING"] });
    const availableDBs = new Set<string>();
    const rolloutCounts = new Map<string, number>();
    const r: BaselinePassResult = { pending: taskRuns.length, evaluated: 0, promoted: 0, errors: 0, statements: 0, finished: true, ms: 0 };
    for (const taskRun of taskRuns) {
      if (performance.now() > deadline) {
        r.finished = false;
        break;
      }
      try {
        const promoted = await this.schedulePendingTaskRun(taskRun, availableDBs, rolloutCounts);
        if (promoted) {
          r.promoted++;
          const task = await this.store.getTaskById(taskRun.taskId);
          if (task && isSequentialTask(task)) availableDBs.add(dbKey(task));
          if (task) rolloutCounts.set(task.planId, (rolloutCounts.get(task.planId) ?? 0) + 1);
        }
      } catch {
        r.errors++; // the reference logs and goes on
      }
      r.evaluated++;
    }
    r.statements = this.store.statements - before;
    r.ms = performance.now() - t0;
    return r;
  }

  /** `schedulePendingTaskRun`: the four gates in order, then the promotion. */
  private async schedulePendingTaskRun(
    taskRun: BaselineRun,
    availableDBs: Set<string>,
    rolloutCounts: Map<string, number>,
  ): Promise<boolean> {
    const task = await this.store.getTaskById(taskRun.taskId);
    if (!task) throw new Error(`task ${taskRun.taskId} not found`);
    // Check 1: run-at time (the reference records no cause for it).
    if (taskRun.runAt && this.opts.now().getTime() < taskRun.runAt.getTime()) return false;
    // Check 2: version order.
    if (task.schemaVersion) {
      const blocking = await this.store.findBlockingTaskByVersion(task.instanceId, task.databaseName, task.schemaVersion);
      if (blocking !== null) {
        this.causes.set(taskRun.id, { type: "VERSION_ORDER", taskId: blocking });
        return false;
      }
    }
    // Check 3: database mutual exclusion.
    const exclusion = await this.checkDatabaseMutualExclusion(task, availableDBs);
    if (!exclusion.canProceed) {
      if (exclusion.blockingTaskId !== null) this.causes.set(taskRun.id, { type: "DATABASE_BUSY", taskId: exclusion.blockingTaskId });
      return false;
    }
    // Check 4: parallel limit per rollout.
    if (!(await this.checkParallelLimit(task, rolloutCounts))) {
      this.causes.set(taskRun.id, { type: "PARALLEL_LIMIT" });
      return false;
    }
    this.causes.delete(taskRun.id);
    const now = this.opts.now();
    await this.store.updateTaskRunStatusAvailable(taskRun.id, now);
    await this.store.createTaskRunLog(taskRun.id, now, this.opts.replicaId);
    await this.store.tickleRunningScheduler();
    return true;
  }

  /** Lists every AVAILABLE/RUNNING run, then fetches their tasks one at a time until one is on this database. */
  private async checkDatabaseMutualExclusion(
    task: BaselineTask,
    availableDBs: Set<string>,
  ): Promise<{ canProceed: boolean; blockingTaskId: string | null }> {
    if (!isSequentialTask(task)) return { canProceed: true, blockingTaskId: null };
    const key = dbKey(task);
    if (availableDBs.has(key)) return { canProceed: false, blockingTaskId: null };
    const activeTaskRuns = await this.store.listTaskRuns({ statuses: ["AVAILABLE", "RUNNING"] });
    for (const tr of activeTaskRuns) {
      const activeTask = await this.store.getTaskById(tr.taskId);
      if (!activeTask) throw new Error(`task ${tr.taskId} not found`);
      if (!isSequentialTask(activeTask)) continue;
      if (dbKey(activeTask) === key) return { canProceed: false, blockingTaskId: activeTask.id };
    }
    return { canProceed: true, blockingTaskId: null };
  }

  /** Plan, then project, then (with a limit) the rollout's AVAILABLE+RUNNING runs, for every run evaluated. */
  private async checkParallelLimit(task: BaselineTask, rolloutCounts: Map<string, number>): Promise<boolean> {
    const plan = await this.store.getPlan(task.planId);
    if (!plan) throw new Error(`plan ${task.planId} not found`);
    const project = await this.store.getProject(plan.projectId);
    if (!project) throw new Error(`project ${plan.projectId} not found`);
    const maxParallel = project.parallelTasksPerRollout;
    if (maxParallel <= 0) return true;
    const active = await this.store.listTaskRuns({ statuses: ["AVAILABLE", "RUNNING"], planId: task.planId });
    return active.length + (rolloutCounts.get(task.planId) ?? 0) < maxParallel;
  }
}
