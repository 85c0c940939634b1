import { TASK_STATUS_ORDER, TASK_TYPES, TaskStatus, type TaskType } from "@runway/shared";
import { h, type VNodeChild } from "vue";
import type { Task } from "@/api/types";
import { actionsFor, TASK_ACTIONS, type TaskAction } from "@/lib/task-actions";
import { durationParts, runDurationMs } from "@/lib/time";
import RunDuration from "./run-duration.vue";
import { statusPill } from "./status-pill";
import WaitingCauseBadge from "./waiting-cause-badge.vue";
import ExecutorWaitBadge from "./executor-wait-badge.vue";
import ChecksCell from "./checks-cell.vue";

/** One column of the task table: a fixed width and how a cell is drawn. */
export interface TaskColumn {
  key: string;
  title: string;
  width: number;
  render: (task: Task) => VNodeChild;
}

export interface ColumnContext {
  t: (key: string, params?: Record<string, unknown>) => string;
  d: (value: Date, format: string) => string;
  canOperate: boolean;
  onAction: (action: TaskAction, task: Task) => void;
}

/**
 * The table's columns. Labels that repeat on every row (types, actions, "—") are translated once here, when
 * the locale changes, not once per cell: a chip switch or a scroll step draws dozens of rows.
 */
export function taskColumns({ t, d, canOperate, onAction }: ColumnContext): TaskColumn[] {
  const none = t("common.none");
  const typeLabel = Object.fromEntries(TASK_TYPES.map((k) => [k, t(`taskType.${k}`)])) as Record<TaskType, string>;
  const actionLabel = Object.fromEntries(TASK_ACTIONS.map((a) => [a, t(`action.${a}`)])) as Record<TaskAction, string>;
  const statusLabel = Object.fromEntries(TASK_STATUS_ORDER.map((s) => [s, t(`taskStatus.${s}`)])) as Record<TaskStatus, string>;

  /** Compact (time today, day and time otherwise); the full date and time on hover. */
  function time(iso: string | null | undefined): VNodeChild {
    if (!iso) return none;
    const date = new Date(iso);
    const today = date.toDateString() === new Date().toDateString();
    return h("span", { title: d(date, "long") }, d(date, today ? "timeSeconds" : "dayTime"));
  }

  /** Only a running run's duration changes; the rest are plain text. */
  function duration(task: Task): VNodeChild {
    const run = task.latestRun;
    if (run?.startedAt && !run.finishedAt) return h(RunDuration, { run });
    const ms = runDurationMs(run?.startedAt, run?.finishedAt, new Date());
    if (ms === null) return none;
    const parts = durationParts(ms);
    return t(parts.key, parts.params);
  }

  const cols: TaskColumn[] = [
    { key: "id", title: t("table.id"), width: 70, render: (r) => `#${r.id}` },
    {
      key: "database",
      title: t("table.database"),
      width: 180,
      render: (r) => {
        const text = `${r.instanceId} / ${r.database}`;
        return h("span", { class: "ellipsis", title: text }, text);
      },
    },
    { key: "type", title: t("table.type"), width: 130, render: (r) => typeLabel[r.type] ?? r.type },
    { key: "schemaVersion", title: t("table.schemaVersion"), width: 90, render: (r) => r.schemaVersion ?? none },
    { key: "status", title: t("table.status"), width: 130, render: (r) => statusPill(r.status, statusLabel[r.status]) },
    { key: "checks", title: t("checks.column"), width: 80, render: (r) => h(ChecksCell, { taskId: r.id }) },
    {
      key: "waitingCause",
      title: t("table.waitingCause"),
      width: 280,
      // A PENDING task waits on a gate; an AVAILABLE one may wait for a free executor. Other rows mount no badge.
      render: (r) =>
        r.status === TaskStatus.PENDING && r.latestRun?.waitingCause
          ? h(WaitingCauseBadge, { task: r })
          : r.status === TaskStatus.AVAILABLE
            ? h(ExecutorWaitBadge)
            : null,
    },
    { key: "started", title: t("table.started"), width: 120, render: (r) => time(r.latestRun?.startedAt) },
    { key: "finished", title: t("table.finished"), width: 120, render: (r) => time(r.latestRun?.finishedAt) },
    { key: "duration", title: t("table.duration"), width: 90, render: duration },
  ];
  if (canOperate) {
    cols.push({
      key: "actions",
      title: t("table.actions"),
      width: 170,
      render: (r) =>
        // Plain buttons: rows mount and unmount on every scroll step, so they stay light.
        h(
          "span",
          { class: "row-actions" },
          actionsFor(r).map((a) =>
            h(
              "button",
              {
                type: "button",
                class: ["row-action", a],
                "data-testid": `row-action-${a}`,
                onClick: (e: MouseEvent) => {
                  e.stopPropagation();
                  onAction(a, r);
                },
              },
              actionLabel[a],
            ),
          ),
        ),
    });
  }
  return cols;
}
