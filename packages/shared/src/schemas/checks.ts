import { Type, type Static } from "typebox";
import { Id, IdList, Nullable, Text, Timestamp } from "./common.js";

/**
 * Checks before a change runs (issue 15): lint findings per task, dry runs on the target, and the project's
 * check policy. The server's checks routes and the dashboard's checks components share these.
 */

export const Severity = Type.Enum(["error", "warning", "info"], { description: "error > warning > info" });
export type Severity = Static<typeof Severity>;
/** A project's override of one rule: off, or another severity. */
export const RuleSetting = Type.Enum(["off", "error", "warning", "info"]);
export type RuleSetting = Static<typeof RuleSetting>;

export const Finding = Type.Object({
  rule: Type.String({ examples: ["require-concurrent-index-creation", "runway-sequential-without-version"] }),
  severity: Severity,
  message: Type.String(),
  help: Type.Optional(Type.String()),
  /** 1-based character position of the offending part in the task's statement (PostgreSQL's convention). */
  position: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Its length in characters. */
  length: Type.Optional(Type.Integer({ minimum: 0 })),
  source: Type.Enum(["squawk", "runway"], { description: "squawk's rule, or one only Runway can know" }),
});
export type Finding = Static<typeof Finding>;

export const DryRunStatus = Type.Enum(["QUEUED", "RUNNING", "DONE", "LOST", "CANNOT"]);
export type DryRunStatus = Static<typeof DryRunStatus>;
export const DryRunOutcome = Type.Enum(["PASSED", "FAILED", "CANNOT_DRY_RUN", "LOST", "UNREACHABLE"], {
  description:
    "PASSED: every statement ran and was rolled back; FAILED: PostgreSQL refused one (error); CANNOT_DRY_RUN: the statement cannot run in a transaction, so it was not executed; LOST: replicas running it kept stopping; UNREACHABLE: the target could not be reached",
});
export type DryRunOutcome = Static<typeof DryRunOutcome>;

export const DryRun = Type.Object({
  id: Id("Dry run id"),
  status: DryRunStatus,
  outcome: Nullable(DryRunOutcome),
  requestedBy: Type.String(),
  createdAt: Timestamp(),
  finishedAt: Nullable(Timestamp()),
  /** Rows each statement would affect, in order (PASSED). */
  rowsAffected: Type.Optional(Type.Array(Type.Integer({ minimum: 0 }))),
  durationMs: Type.Optional(Type.Integer({ minimum: 0 })),
  message: Type.Optional(Type.String()),
  /**
   * PASSED without running: the target's ledger has the task's version under another task (byTask), so a run
   * would not apply it again. FAILED with VERSION_APPLIED_WITH_OTHER_CONTENT names that task too.
   */
  alreadyApplied: Type.Optional(Type.Boolean()),
  byTask: Type.Optional(Id("The task whose run applied the version on this database")),
  /** PostgreSQL's error (FAILED): SQLSTATE, message, 1-based position in the task's statement. */
  error: Type.Optional(
    Type.Object({ code: Type.Optional(Type.String()), message: Type.String(), position: Type.Optional(Type.Integer({ minimum: 1 })) }),
  ),
});
export type DryRun = Static<typeof DryRun>;

export const CheckOverride = Type.Object({ by: Type.String(), reason: Type.String(), at: Timestamp() });
export type CheckOverride = Static<typeof CheckOverride>;

export const TaskChecks = Type.Object({
  taskId: Id("Task id"),
  statement: Type.String(),
  lint: Nullable(
    Type.Object({
      findings: Type.Array(Finding),
      worst: Nullable(Severity),
      /** Why the linter could not run (findings then hold Runway's own rules only). */
      error: Type.Optional(Type.String()),
      lintedAt: Timestamp(),
    }),
  ),
  dryRun: Nullable(DryRun),
  override: Nullable(CheckOverride),
  /** What the project's policy says of this task now: the failing checks (empty when it may run). */
  blocking: Type.Array(Type.Enum(["LINT_ERRORS", "DRY_RUN_REQUIRED", "DRY_RUN_FAILED"])),
});
export type TaskChecks = Static<typeof TaskChecks>;

export const RolloutChecks = Type.Object({
  rolloutId: Id("Rollout id"),
  lint: Type.Object({
    error: Type.Integer(),
    warning: Type.Integer(),
    info: Type.Integer(),
    clean: Type.Integer(),
    unchecked: Type.Integer(),
  }),
  dryRun: Type.Object({
    queued: Type.Integer(),
    running: Type.Integer(),
    passed: Type.Integer(),
    failed: Type.Integer(),
    cannot: Type.Integer(),
    lost: Type.Integer(),
    none: Type.Integer(),
  }),
  /** Per task: worst lint severity and latest dry-run outcome (only tasks with either). */
  tasks: Type.Array(
    Type.Object({
      taskId: Id("Task id"),
      worst: Nullable(Severity),
      dryRun: Nullable(Type.Union([DryRunOutcome, DryRunStatus])),
    }),
  ),
  policy: Type.Object({ blockOnLintErrors: Type.Boolean(), requireDryRun: Type.Boolean() }),
});
export type RolloutChecks = Static<typeof RolloutChecks>;

export const ChecksRunBody = Type.Object(
  {
    taskIds: Type.Optional(IdList("task")),
    lint: Type.Optional(Type.Boolean({ default: true, description: "Lint again (default true)" })),
    dryRun: Type.Optional(Type.Boolean({ default: true, description: "Queue dry runs (default true)" })),
  },
  { additionalProperties: false, examples: [{}, { taskIds: ["101"], lint: false }] },
);
export type ChecksRunBody = Static<typeof ChecksRunBody>;
export const ChecksRunResult = Type.Object({
  linted: Type.Integer(),
  queued: Type.Integer({ description: "Dry runs queued (a task with one already queued or running keeps it)" }),
  cannot: Type.Integer({ description: "Tasks whose statement cannot be dry-run (recorded at once)" }),
});
export type ChecksRunResult = Static<typeof ChecksRunResult>;

export const CheckPolicy = Type.Object({
  blockOnLintErrors: Type.Boolean(),
  requireDryRun: Type.Boolean({ description: "A task may run only after a PASSED (or CANNOT_DRY_RUN) dry run" }),
  ruleOverrides: Type.Record(Type.String({ pattern: "^[a-z0-9-]{1,80}$" }), RuleSetting, { maxProperties: 200 }),
});
export type CheckPolicy = Static<typeof CheckPolicy>;
export const CheckPolicyPatch = Type.Partial(CheckPolicy, { additionalProperties: false });
export type CheckPolicyPatch = Static<typeof CheckPolicyPatch>;

export const CheckOverrideBody = Type.Object({ reason: Text(1, 1000) }, { additionalProperties: false });
export type CheckOverrideBody = Static<typeof CheckOverrideBody>;
