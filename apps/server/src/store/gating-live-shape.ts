import { sql, type RawBuilder } from "kysely";
import type { LiveValues } from "./gating-live-read.js";

/**
 * Which of the live read's inputs hold anything (see liveShapeKey): a branch of the read for inputs that are empty
 * reads nothing, yet its plan's nodes are set up and its tables and indexes opened and locked on every call —
 * most of the read's cost on the pickup path through a pass, where a new run is the only change (issue 19:
 * the whole read's executor setup took ~0.5 of its ~0.8 ms there, its nodes' own work ~0.3). So the read is
 * built with only the branches its inputs need: one prepared statement per shape, at most 32 (× busy waiters).
 */
export interface LiveShape {
  runs: boolean;
  dbs: boolean;
  tasks: boolean;
  rollouts: boolean;
  controls: boolean;
}

const SHAPE_FLAGS = ["runs", "dbs", "tasks", "rollouts", "controls"] as const;
/** Each input's letter in a shape key. */
const SHAPE_LETTER: Record<keyof LiveShape, string> = { runs: "n", dbs: "d", tasks: "t", rollouts: "o", controls: "c" };

/** The memo key of the read for `busyWaiters` and the inputs in `v`: `4:` + one letter per input that holds anything. */
export function liveShapeKey(busyWaiters: number, v: LiveValues): string {
  const held: LiveShape = {
    runs: v.runs.length > 0,
    dbs: v.inst.length > 0,
    tasks: v.tinst.length > 0,
    rollouts: v.rids.length > 0,
    controls: v.crids.length > 0,
  };
  return `${busyWaiters}:${SHAPE_FLAGS.filter((f) => held[f])
    .map((f) => SHAPE_LETTER[f])
    .join("")}`;
}

export function parseShapeKey(key: string): { busyWaiters: number; shape: LiveShape } {
  const [n, letters = ""] = key.split(":");
  const shape = Object.fromEntries(SHAPE_FLAGS.map((f) => [f, letters.includes(SHAPE_LETTER[f])])) as unknown as LiveShape;
  return { busyWaiters: Number(n), shape };
}

/** Joins the branches that are present with UNION. */
export const union = (branches: (RawBuilder<unknown> | false)[]) =>
  sql.join(
    branches.filter((b): b is RawBuilder<unknown> => b !== false),
    sql`\n      UNION\n`,
  );
