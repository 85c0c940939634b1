import type { TaskRunStatus } from "@runway/shared";
import type { Task } from "@/api/types";

/** One bar on the timeline: a run's wait (requested → started) or its execution (started → finished). */
export interface TimelineBar {
  lane: number;
  /** Row inside the lane: runs that overlap in time get different tracks, so parallel runs stay visible. */
  track: number;
  start: number;
  end: number;
  taskId: string;
  status: TaskRunStatus;
  kind: "wait" | "exec";
}

export interface TimelineData {
  lanes: string[];
  /** Number of tracks in each lane. */
  tracks: number[];
  bars: TimelineBar[];
  min: number;
  max: number;
}

const ms = (iso: string | null | undefined) => (iso ? new Date(iso).getTime() : NaN);

/**
 * Lanes are databases (instance/database, or just the database when the name is unique). Each task's
 * latest run gives a wait bar from when it was requested until it started (scheduled runs included), and an
 * execution bar until it finished; unfinished bars end at `now`.
 */
export function buildTimeline(tasks: readonly Task[], now: number): TimelineData {
  const withRuns = tasks.filter((t) => t.latestRun);
  const names = new Map<string, Set<string>>();
  for (const t of withRuns) {
    const set = names.get(t.database) ?? new Set<string>();
    set.add(t.instanceId);
    names.set(t.database, set);
  }
  const laneKey = (t: Task) => ((names.get(t.database)?.size ?? 0) > 1 ? `${t.instanceId}/${t.database}` : t.database);
  const lanes = [...new Set(withRuns.map(laneKey))].sort();
  const laneIndex = new Map(lanes.map((l, i) => [l, i]));
  const bars: TimelineBar[] = [];
  let min = Infinity;
  let max = -Infinity;
  /** Per lane, when each track is free again (greedy interval packing in start order). */
  const trackEnds: number[][] = lanes.map(() => []);
  const startOf = (t: Task) => ms(t.latestRun!.createdAt);
  for (const t of [...withRuns].sort((a, b) => startOf(a) - startOf(b))) {
    const run = t.latestRun!;
    const lane = laneIndex.get(laneKey(t))!;
    const requested = ms(run.createdAt);
    const started = ms(run.startedAt);
    const finished = ms(run.finishedAt);
    const waitEnd = Number.isNaN(started) ? (Number.isNaN(finished) ? now : finished) : started;
    const runEnd = Number.isNaN(started) ? waitEnd : Number.isNaN(finished) ? now : Math.max(finished, started);
    const ends = trackEnds[lane]!;
    let track = ends.findIndex((end) => end <= requested);
    if (track < 0) track = ends.push(runEnd) - 1;
    else ends[track] = runEnd;
    if (!Number.isNaN(requested) && waitEnd > requested) {
      bars.push({ lane, track, start: requested, end: waitEnd, taskId: t.id, status: run.status, kind: "wait" });
    }
    if (!Number.isNaN(started)) {
      bars.push({ lane, track, start: started, end: runEnd, taskId: t.id, status: run.status, kind: "exec" });
    }
    for (const v of [requested, started, finished]) {
      if (!Number.isNaN(v) && v > 0) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
    }
  }
  if (bars.some((b) => b.end === now)) max = Math.max(max, now);
  const tracks = trackEnds.map((e) => Math.max(1, e.length));
  return { lanes, tracks, bars, min: Number.isFinite(min) ? min : now, max: Number.isFinite(max) ? max : now };
}
