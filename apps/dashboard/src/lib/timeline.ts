import type { TaskRunStatus } from "@runway/shared";
import type { Task } from "@/api/types";

/**
 * The timeline's math, pure so it is unit-tested: bars from runs, rows grouped by stage or database with
 * collapse, a time scale with zoom about a point, ticks for the axis, and bar rectangles with a minimum
 * width (a failure stays visible at any zoom).
 */

/** A run's wait (requested → started) or its execution (started → finished, or now). */
export interface Segment {
  start: number;
  end: number;
  kind: "wait" | "exec";
  status: TaskRunStatus;
}

const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : NaN);

export function taskSegments(task: Task, now: number): Segment[] {
  const run = task.latestRun;
  if (!run) return [];
  const requested = ms(run.createdAt);
  const started = ms(run.startedAt);
  const finished = ms(run.finishedAt);
  const out: Segment[] = [];
  const waitEnd = Number.isNaN(started) ? (Number.isNaN(finished) ? now : finished) : started;
  if (!Number.isNaN(requested) && waitEnd > requested) out.push({ start: requested, end: waitEnd, kind: "wait", status: run.status });
  if (!Number.isNaN(started))
    out.push({
      start: started,
      end: Number.isNaN(finished) ? Math.max(now, started) : Math.max(finished, started),
      kind: "exec",
      status: run.status,
    });
  return out;
}

export type GroupBy = "stage" | "database";

export type TimelineRow =
  | { kind: "group"; key: string; label: string; count: number; failed: number; collapsed: boolean }
  | { kind: "task"; key: string; task: Task; segments: Segment[] };

/**
 * Rows in display order: a header per group (stage in rollout order, or database by name), then its tasks
 * with runs, in id order, unless the group is collapsed. Tasks that never ran have no bars and no row.
 */
export function timelineRows(
  tasks: readonly Task[],
  p: { groupBy: GroupBy; stages: readonly { id: string; environment: string }[]; collapsed: ReadonlySet<string>; now: number },
): TimelineRow[] {
  const groups = new Map<string, Task[]>();
  const keyOf = p.groupBy === "stage" ? (t: Task) => `stage:${t.stageId}` : (t: Task) => `db:${t.instanceId}/${t.database}`;
  for (const t of tasks) {
    if (!t.latestRun) continue;
    const k = keyOf(t);
    const list = groups.get(k);
    if (list) list.push(t);
    else groups.set(k, [t]);
  }
  const stageOrder = new Map(p.stages.map((s, i) => [`stage:${s.id}`, i]));
  const stageName = new Map(p.stages.map((s, i) => [`stage:${s.id}`, `${i + 1}. ${s.environment}`]));
  const keys = [...groups.keys()].sort((a, b) =>
    p.groupBy === "stage" ? (stageOrder.get(a) ?? 1e9) - (stageOrder.get(b) ?? 1e9) || a.localeCompare(b) : a.localeCompare(b),
  );
  const rows: TimelineRow[] = [];
  for (const key of keys) {
    const list = groups.get(key)!.sort((a, b) => Number(a.id) - Number(b.id));
    const collapsed = p.collapsed.has(key);
    const label = p.groupBy === "stage" ? (stageName.get(key) ?? key) : key.slice(3);
    rows.push({ kind: "group", key, label, count: list.length, failed: list.filter((t) => t.status === "FAILED").length, collapsed });
    if (!collapsed) for (const task of list) rows.push({ kind: "task", key: task.id, task, segments: taskSegments(task, p.now) });
  }
  return rows;
}

/** The span every run covers (with `now` when something is unfinished), padded so bars do not touch the edges. */
export function timeSpan(tasks: readonly Task[], now: number): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const t of tasks) {
    for (const s of taskSegments(t, now)) {
      min = Math.min(min, s.start);
      max = Math.max(max, s.end);
    }
  }
  if (!Number.isFinite(min)) return { min: now - 60_000, max: now };
  const pad = Math.max(1000, (max - min) * 0.02);
  return { min: min - pad, max: max + pad };
}

/** Pixels per millisecond, bounded: from a whole week on a screen to 1 ms per 10 px. */
export const MIN_PX_PER_MS = 1 / 600_000;
export const MAX_PX_PER_MS = 10;
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

export const fitScale = (span: { min: number; max: number }, width: number) =>
  clamp(width / Math.max(1, span.max - span.min), MIN_PX_PER_MS, MAX_PX_PER_MS);

/**
 * Zoom by `factor` keeping the time under `anchorPx` (from the left of the view) where it is; returns the
 * new scale and the scroll position that does so.
 */
export function zoomAt(p: { pxPerMs: number; scrollLeft: number; anchorPx: number; factor: number }): {
  pxPerMs: number;
  scrollLeft: number;
} {
  const pxPerMs = clamp(p.pxPerMs * p.factor, MIN_PX_PER_MS, MAX_PX_PER_MS);
  const anchorMs = (p.scrollLeft + p.anchorPx) / p.pxPerMs;
  return { pxPerMs, scrollLeft: Math.max(0, anchorMs * pxPerMs - p.anchorPx) };
}

/** A bar's left and width; failures get a wider minimum than other bars so they are found at any zoom. */
export function barRect(s: Segment, min: number, pxPerMs: number): { left: number; width: number } {
  const minWidth = s.status === "FAILED" && s.kind === "exec" ? 6 : 2;
  return { left: (s.start - min) * pxPerMs, width: Math.max(minWidth, (s.end - s.start) * pxPerMs) };
}

const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map((s) => s * 1000);

/** Axis ticks at a round step about `spacingPx` apart (aligned to the step in UTC). */
export function ticks(span: { min: number; max: number }, pxPerMs: number, spacingPx = 110): number[] {
  const step = STEPS.find((s) => s * pxPerMs >= spacingPx) ?? STEPS[STEPS.length - 1]!;
  const out: number[] = [];
  for (let t = Math.ceil(span.min / step) * step; t <= span.max && out.length < 5000; t += step) out.push(t);
  return out;
}
