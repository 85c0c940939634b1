import { sql, type RawBuilder } from "kysely";
import { Channel } from "../db.js";
import { notifyChangeOf } from "../notify.js";
import { failedRunEventCtes, notifyDue } from "../webhook-events.js";
import { gateMarksInsert } from "./marks.js";
import { ACTIVE, TRANSITIONS, type RunState, type Transition, type TransitionName } from "./table.js";

/**
 * Builds one SQL statement from one or more run transitions and the effects every transition has, so no
 * crash can separate a run's status from its task's status, its log entry, what it records for the
 * pending scheduler, or its notifications:
 *
 * - task.status follows the run's new status;
 * - a run that is no longer PENDING loses its waiting cause;
 * - a STATUS log entry `{status, message, from, to, by, replica, epoch, reason}` (+ the step's `detail`);
 * - change marks for the live pass: a new PENDING run; a database whose sequential run left
 *   AVAILABLE/RUNNING (or was canceled while PENDING, see freesGates); a versioned task that became DONE,
 *   FAILED or CANCELED (BLOCKED_BY_FAILED);
 *   the same for a rollout with a limit;
 * - a TASK_RUN_FAILED webhook event (the outbox, store/webhook-events.ts) for a run that became FAILED;
 * - NOTIFY runway_pending when something was marked, runway_available when a run became AVAILABLE,
 *   runway_change with the rollouts touched — inside the statement, so they cost no round trip and go
 *   out exactly when it commits (PostgreSQL delivers identical notifications of a transaction once).
 *
 * An effect none of the steps' transitions can have (see effectsOf) is left out of the statement.
 *
 * Every name in the statement is made here; callers pass SQL for one step at a time.
 */

export interface TransitionStep {
  name: TransitionName;
  /** CTEs the step reads (e.g. the rows it acts on, locked), defined with it. */
  inputs?: RawBuilder<unknown>;
  /**
   * The step's data-modifying statement on `task_run r` (UPDATE … or INSERT INTO task_run AS r …). It must
   * include `guard` in its WHERE clause (the transition's status compare-and-set) and end with
   * `RETURNING ${returning}, <reason text> AS reason, <detail jsonb or NULL> AS detail`.
   */
  sql: (g: { guard: RawBuilder<unknown>; returning: RawBuilder<unknown> }) => RawBuilder<unknown>;
  /**
   * The statuses this step can produce, when the caller knows them to be fewer than its transition's `to`
   * (a finish of runs that all succeeded: DONE). Effects of the others are left out of the statement, and
   * the statement fails if the step produces one of them, as for any status outside `to`.
   */
  to?: readonly RunState[];
}

export interface StatementParts {
  /** CTEs the steps read (e.g. the rows they act on), defined by the same caller. */
  inputs?: RawBuilder<unknown>;
  steps: TransitionStep[];
  /**
   * Select-list expressions the caller wants besides the standard `changed` column; `stepRel(i)` names
   * step i's rows (the RETURNING columns, plus `attempt`, `rerunnable`, `updated_at` of the run).
   */
  extra?: (stepRel: (i: number) => RawBuilder<unknown>) => RawBuilder<unknown>;
  /**
   * Further CTEs, after the standard effects: the caller's own effects of the steps' rows (`stepRel(i)`, as
   * in `extra`), written in the same statement and so committed with the transition or not at all.
   */
  after?: (stepRel: (i: number) => RawBuilder<unknown>) => RawBuilder<unknown>;
  /**
   * Whether the statement lists the changed runs in `changed` (default true). A caller that reads only its
   * `extra` columns says false and gets `[]`: at 10,000 runs the list costs ~30 ms to build (issue 19).
   */
  listChanged?: boolean;
  now: Date;
  /** The replica writing (logged); null for the API. */
  replicaId: string | null;
}

/** One changed run, as the statement reports it. */
export interface Changed {
  id: string;
  taskId: string;
  rolloutId: string;
  from: string | null;
  status: string;
}

/**
 * The ids of a step's runs, as one comma-separated text named `alias`: for a caller that needs only which
 * runs a step changed. The `changed` list builds a JSON object for every run of every step: 0.03–0.05 ms
 * of the statement a run (issue 19, docs/benchmarks.md §8), where this costs a string.
 */
export const stepIds = (rel: RawBuilder<unknown>, alias: string) =>
  sql`(SELECT coalesce(string_agg(x.id::text, ','), '') FROM ${rel} x) AS ${sql.ref(alias)}`;

/** The ids `stepIds` listed. */
export function parseIds(text: string): Set<string> {
  return new Set(text === "" ? [] : text.split(","));
}

const RETURNING = sql`r.id, r.task_id, r.rollout_id, r.instance_id, r.database_name, r.sequential, r.schema_version_key,
  r.status, r.lease_epoch, r.attempt, r.rerunnable, r.updated_at`;

const lit = (v: string | null) => (v === null ? sql`NULL::text` : sql`${v}::text`);
const list = (vs: readonly string[]) => sql.join(vs.map((v) => sql.lit(v)));

/**
 * Whether the change may let a held run go: a run left AVAILABLE/RUNNING — or a PENDING run was
 * canceled, since a pass in flight may have counted it as promoted when deciding others' causes.
 */
function freesGates(from: string | null): RawBuilder<unknown> {
  if (from === "PENDING") return sql`status = 'CANCELED'`;
  if (from !== null && ACTIVE.includes(from as never)) return sql`status <> ALL(ARRAY[${list(ACTIVE)}])`;
  return sql`false`;
}

/** A step's transition, its `to` narrowed to what the caller says the step produces. */
function narrowed(s: TransitionStep): Transition {
  const t: Transition = TRANSITIONS[s.name];
  if (!s.to) return t;
  const outside = s.to.filter((x) => !t.to.includes(x));
  if (outside.length > 0 || s.to.length === 0) throw new Error(`${s.name} cannot produce ${outside.join(", ") || "nothing"}`);
  // In the transition's order, so the same set gives the same statement text (one prepared statement).
  return { ...t, to: t.to.filter((x) => s.to!.includes(x)) };
}

/** Which effects the given transitions can have at all, from their `from` and `to` statuses alone. */
export function effectsOf(ts: readonly Transition[]) {
  const to = (x: RunState) => ts.some((t) => t.to.includes(x as never));
  return {
    /** A run left PENDING: its waiting cause goes. */
    leavePending: ts.some((t) => t.from === "PENDING"),
    /** A PENDING run canceled, from outside the pass lock: marked so a later pass removes a cause this one could not see. */
    markCanceled: ts.some((t) => t.from === "PENDING" && t.to.includes("CANCELED" as never)),
    markRun: to("PENDING"),
    /** left_active (freesGates) can be true: the gate marks for databases and rollouts. */
    markGates: ts.some(
      (t) =>
        (t.from === "PENDING" && t.to.includes("CANCELED" as never)) ||
        (t.from !== null && ACTIVE.includes(t.from) && t.to.some((x) => !ACTIVE.includes(x))),
    ),
    markDone: to("DONE") || to("FAILED") || to("CANCELED"),
    becomeAvailable: to("AVAILABLE"),
    fail: to("FAILED"),
  };
}

export function transitionStatement(p: StatementParts): RawBuilder<{ changed: Changed[] } & Record<string, unknown>> {
  if (p.steps.length === 0) throw new Error("transitionStatement needs a step");
  const stepRel = (i: number) => sql.ref(`step_${i}`);
  const steps = p.steps.map((s, i) => {
    const t = TRANSITIONS[s.name];
    // The status compared with a subquery's value (an InitPlan), not a constant. Every step finds its runs
    // by id; a constant would let the generic plan reach them through any partial index WHERE status = …
    // instead of the primary key, scanning that index whole with its dead entries (task_run_owner_idx:
    // ~2,500 entries for the 10 runs of a finish after 10,000 runs, a tenth of the statement; issue 19).
    const guard = t.from === null ? sql`true` : sql`r.status = (SELECT ${sql.lit(t.from)}::text)`;
    return sql`${stepRel(i)} AS (${s.sql({ guard, returning: RETURNING })})`;
  });
  const transitions = p.steps.map((s) => narrowed(s));
  const union = sql.join(
    transitions.map((t, i) => {
      return sql`SELECT id, task_id, rollout_id, instance_id, database_name, sequential, schema_version_key, status,
          lease_epoch, reason, detail, ${lit(t.from)} AS from_status, ${lit(t.by)} AS by_actor,
          ${freesGates(t.from)} AS left_active,
          status = ANY(ARRAY[${list(t.to)}]) AS allowed
        FROM ${stepRel(i)}`;
    }),
    sql` UNION ALL `,
  );
  const inputs = [p.inputs, ...p.steps.map((s) => s.inputs)].filter((x): x is RawBuilder<unknown> => x !== undefined);
  // Only the effects the steps' transitions can have are in the statement: a status outside a step's
  // `to` fails the statement (`disallowed` below), so an effect of such a status never commits anyway.
  // Each effect left out is a CTE PostgreSQL need not parse and plan on every call (issue 19: planning was
  // most of the running scheduler's finish + claim statement).
  const can = effectsOf(transitions);
  const marks = [can.markRun && sql`eff_run`, can.markCanceled && sql`eff_canceled`, (can.markGates || can.markDone) && sql`eff_marks`];
  const marked = marks.filter((x): x is RawBuilder<unknown> => x !== false);
  const effects = [
    can.leavePending &&
      sql`eff_wait AS (
      DELETE FROM task_run_wait USING ch WHERE task_run_wait.run_id = ch.id AND ch.status <> 'PENDING'
    )`,
    // The task's `updated_at` (a key of task_rollout_updated_idx) moves only with DONE, whose update is not
    // HOT anyway (`unfinished` changes), and CANCELED (rare): every other update of the task is HOT, no
    // index entry (migration 0066). The API's changed-since read finds those changes through the run
    // (store/task-reads.ts).
    sql`eff_task AS (
      UPDATE task SET status = ch.status,
        updated_at = CASE WHEN ch.status IN ('DONE', 'CANCELED') THEN ${p.now} ELSE task.updated_at END
      FROM ch WHERE task.id = ch.task_id
    )`,
    sql`eff_log AS (
      INSERT INTO task_run_log (task_run_id, at, type, replica_id, payload)
      SELECT ch.id, ${p.now}, 'STATUS', ${p.replicaId}::text, jsonb_build_object('status', ch.status, 'message', ch.reason,
        'from', ch.from_status, 'to', ch.status, 'by', ch.by_actor, 'replica', ${p.replicaId}::text,
        'epoch', ch.lease_epoch, 'reason', ch.reason) || coalesce(ch.detail, '{}'::jsonb)
      FROM ch
    )`,
    can.markRun &&
      sql`eff_run AS (
      INSERT INTO gating_dirty_run (run_id) SELECT id FROM ch WHERE ch.status = 'PENDING' RETURNING 1
    )`,
    // A pass writes causes in its own transaction, which may still be open when this one deletes the run's:
    // that uncommitted row is invisible here and is committed afterwards, a cause for a run no longer PENDING
    // (it took a freed database's first places in the live read for good). The mark has the next pass that
    // takes it remove such a row (gatingDropCanceledCauses), in a statement after the pass lock is held, so
    // after the racing pass committed.
    can.markCanceled &&
      sql`eff_canceled AS (
      INSERT INTO gating_dirty_run (run_id) SELECT id FROM ch WHERE ch.from_status = 'PENDING' AND ch.status = 'CANCELED' RETURNING 1
    )`,
    (can.markGates || can.markDone) && sql`eff_marks AS (${gateMarksInsert(can)})`,
    can.fail && failedRunEventCtes(sql`ch`, p.now),
    p.after !== undefined && p.after(stepRel),
  ].filter((x): x is RawBuilder<unknown> => x !== false);
  return sql`
    WITH ${inputs.length ? sql`${sql.join(inputs)}, ` : sql``}${sql.join(steps)},
    ch AS (${union}),
    ${sql.join(effects)}
    SELECT
      ${
        p.listChanged === false
          ? sql`'[]'::json`
          : sql`(SELECT coalesce(json_agg(json_build_object('id', ch.id::text, 'taskId', ch.task_id::text, 'rolloutId', ch.rollout_id::text,
        'from', ch.from_status, 'status', ch.status) ORDER BY ch.id), '[]') FROM ch)`
      } AS changed,
      -- A step that produced a status its transition does not allow is a bug: fail the whole statement.
      (SELECT count(*) FROM ch WHERE CASE WHEN ch.allowed THEN false
        ELSE ('run ' || ch.id || ': ' || ch.by_actor || ' may not move it to ' || ch.status)::int = 0 END) AS disallowed,
      ${
        marked.length > 0
          ? sql`(SELECT count(pg_notify(${Channel.PENDING}, '')) FROM (
        ${sql.join(
          marked.map((m) => sql`SELECT 1 FROM ${m}`),
          sql` UNION ALL `,
        )} LIMIT 1) x)`
          : sql`0`
      } AS notified_pending,
      ${
        can.becomeAvailable
          ? sql`(SELECT count(pg_notify(${Channel.AVAILABLE}, '')) FROM (SELECT 1 FROM ch WHERE ch.status = 'AVAILABLE' LIMIT 1) x)`
          : sql`0`
      } AS notified_available,
      ${notifyChangeOf(sql`ch`)} AS notified_change,
      ${can.fail ? notifyDue(sql`hook_failed_delivery`) : sql`0`} AS notified_webhook
      ${p.extra ? sql`, ${p.extra(stepRel)}` : sql``}`;
}
