import { sql, type RawBuilder } from "kysely";
import type { LiveValues } from "./gating-live-read.js";

/**
 * Which of the live read's inputs hold anything (see liveShapeKey). A branch of the read for an input that is
 * empty reads nothing, yet it is part of the statement every call sets up and runs: on the pickup path through
 * a pass, where a new run is the only change, the whole read took 0.81–1.08 ms of server time (EXPLAIN ANALYZE,
 * setup included; its nodes' own work 0.27–0.37), and 0.48 ms with only the branches it needs (issue 19). So
 * the read is built per shape: one prepared statement each, at most 32 (× busy waiters).
 */
export interface LiveShape {
  runs: boolean;
  dbs: boolean;
  tasks: boolean;
  rollouts: boolean;
  controls: boolean;
}

/** Each input's letter in a shape key, in the key's order. */
const SHAPE_LETTER: Record<keyof LiveShape, string> = { runs: "n", dbs: "d", tasks: "t", rollouts: "o", controls: "c" };
const SHAPE_FLAGS = Object.keys(SHAPE_LETTER) as (keyof LiveShape)[];

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
