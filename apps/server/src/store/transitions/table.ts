/**
 * Every way a task run changes status, as data. The statements in this folder are built from it
 * (transitionStatement takes a transition's name and gets its status guard, its actor and its log entry
 * from here), and docs/scheduler.md's table is checked against it by test/transitions-doc.test.ts.
 *
 * `from: null` creates the run. `fence` says what makes the change safe under many replicas; it is
 * documentation for people, the SQL of each statement implements it.
 */

export type RunState = "PENDING" | "AVAILABLE" | "RUNNING" | "DONE" | "FAILED" | "CANCELED";

/** Who moves the run: recorded as `by` in every STATUS log entry. */
export type Actor = "api" | "pending-scheduler" | "running-scheduler" | "owner" | "drain" | "sweeper";

export interface Transition {
  from: RunState | null;
  to: readonly RunState[];
  by: Actor;
  fence: string;
}

export const TRANSITIONS = {
  create: {
    from: null,
    to: ["PENDING", "AVAILABLE", "RUNNING"],
    by: "api",
    fence:
      "task rows locked; one active run per task (unique index); RUNNING only for the serving replica's free executor slots, while no run is AVAILABLE",
  },
  autoCreate: {
    from: null,
    to: ["PENDING", "AVAILABLE"],
    by: "pending-scheduler",
    fence: "pass lock; task rows locked; one active run per task (unique index)",
  },
  promote: {
    from: "PENDING",
    to: ["AVAILABLE", "RUNNING"],
    by: "pending-scheduler",
    fence: "pass lock; status; RUNNING only for the pass's replica's free executor slots, in a live pass, while no run is AVAILABLE",
  },
  failOrphan: { from: "PENDING", to: ["FAILED"], by: "pending-scheduler", fence: "pass lock; status" },
  cancelPending: { from: "PENDING", to: ["CANCELED"], by: "api", fence: "run rows locked; status" },
  cancelAvailable: { from: "AVAILABLE", to: ["CANCELED"], by: "api", fence: "run rows locked; status" },
  claim: { from: "AVAILABLE", to: ["RUNNING"], by: "running-scheduler", fence: "status; FOR UPDATE SKIP LOCKED; rollout not paused" },
  finish: { from: "RUNNING", to: ["DONE", "FAILED", "CANCELED"], by: "owner", fence: "owner + lease epoch; status" },
  release: { from: "RUNNING", to: ["AVAILABLE", "FAILED", "CANCELED"], by: "drain", fence: "owner + lease epoch; status" },
  requeue: { from: "RUNNING", to: ["AVAILABLE", "FAILED", "CANCELED"], by: "owner", fence: "owner + lease epoch; status" },
  retry: { from: "RUNNING", to: ["PENDING", "CANCELED"], by: "owner", fence: "owner + lease epoch; status; nothing of the run committed" },
  autoRetry: {
    from: "RUNNING",
    to: ["PENDING", "CANCELED"],
    by: "owner",
    fence: "owner + lease epoch; status; retry count; the run rolled back (lock or serialization failure)",
  },
  sweep: {
    from: "RUNNING",
    to: ["DONE", "AVAILABLE", "FAILED", "CANCELED"],
    by: "sweeper",
    fence: "lease expired, same epoch; status; only after the target confirmed no session of the run is alive",
  },
  pause: { from: "AVAILABLE", to: ["PENDING"], by: "api", fence: "rollout paused in the same transaction; status" },
  trip: { from: "AVAILABLE", to: ["PENDING"], by: "pending-scheduler", fence: "pass lock; rollout paused in the same transaction; status" },
} as const satisfies Record<string, Transition>;

export type TransitionName = keyof typeof TRANSITIONS;

/** A run counts against its database's and rollout's gates while AVAILABLE or RUNNING. */
export const ACTIVE: readonly RunState[] = ["AVAILABLE", "RUNNING"];
