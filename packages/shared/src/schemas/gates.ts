import { Type, type Static } from "typebox";
import { Id, Nullable, Text, Timestamp } from "./common.js";

/** Release controls (issue 13): environment policies, stage approvals, pausing a rollout. */

export const ApprovalRole = Type.Union([Type.Literal("none"), Type.Literal("releaser"), Type.Literal("admin")], {
  description: "Least role that must approve a stage of this environment before its runs may start; none: no approval",
});
export type ApprovalRole = Static<typeof ApprovalRole>;

export const EnvironmentPolicy = Type.Object(
  {
    environment: Text(1, 100, { examples: ["prod"] }),
    autoRun: Type.Boolean({ description: "When the previous stage completes, run this stage's NOT_STARTED tasks without a click" }),
    approval: ApprovalRole,
    approverNotCreator: Type.Boolean({ description: "The approver may not be the rollout's creator" }),
  },
  { additionalProperties: false },
);
export type EnvironmentPolicy = Static<typeof EnvironmentPolicy>;

const policiesExample = {
  circuitBreakerFailures: 3,
  environments: [
    { environment: "staging", autoRun: true, approval: "none", approverNotCreator: false },
    { environment: "prod", autoRun: true, approval: "releaser", approverNotCreator: true },
  ],
};

export const ProjectPolicies = Type.Object(
  {
    circuitBreakerFailures: Type.Integer({
      minimum: 0,
      maximum: 100000,
      description: "Pause a rollout automatically after this many failed runs (since its last resume); 0 = never",
    }),
    environments: Type.Array(EnvironmentPolicy, { maxItems: 100, description: "Environments without an entry: no auto-run, no approval" }),
  },
  { additionalProperties: false, examples: [policiesExample] },
);
export type ProjectPolicies = Static<typeof ProjectPolicies>;

export const StageParams = Type.Object({ rolloutId: Id("Rollout id"), stageId: Id("Stage id") });

export const StageDecisionBody = Type.Object(
  { comment: Type.Optional(Text(0, 2000, { description: "Why (shown on the stage and, for a rejection, in the canceled runs' log)" })) },
  { additionalProperties: false, examples: [{ comment: "staging looks good" }] },
);
export type StageDecisionBody = Static<typeof StageDecisionBody>;

export const PauseBody = Type.Object(
  { reason: Type.Optional(Text(0, 2000, { description: "Shown with the PAUSED waiting cause" })) },
  { additionalProperties: false, examples: [{ reason: "error rate up in prod" }] },
);
export type PauseBody = Static<typeof PauseBody>;

export const StageDecision = Type.Object({
  decision: Type.Union([Type.Literal("APPROVED"), Type.Literal("REJECTED")]),
  by: Type.String(),
  at: Timestamp(),
  comment: Type.String(),
});
export type StageDecision = Static<typeof StageDecision>;

export const Pause = Type.Object({
  by: Type.String({ description: 'Who paused; "circuit-breaker" when the rollout paused itself' }),
  at: Timestamp(),
  reason: Type.String(),
  automatic: Type.Boolean(),
});
export type Pause = Static<typeof Pause>;

export const StageGate = Type.Object({
  stageId: Id("Stage id"),
  environment: Type.String(),
  position: Type.Integer(),
  done: Type.Integer({ minimum: 0, description: "Tasks DONE or SKIPPED" }),
  total: Type.Integer({ minimum: 0 }),
  waitingFor: Nullable(
    Type.Object(
      { stageId: Id("Stage id"), environment: Type.String(), done: Type.Integer(), total: Type.Integer() },
      {
        description: "The nearest earlier unfinished stage (stage order IN_ORDER), or null",
      },
    ),
  ),
  approval: ApprovalRole,
  approverNotCreator: Type.Boolean(),
  autoRun: Type.Boolean(),
  decisions: Type.Array(StageDecision, { description: "Approvals and rejections, newest first; the first one counts" }),
  canDecide: Type.Boolean({ description: "Whether the caller may approve or reject this stage" }),
});
export type StageGate = Static<typeof StageGate>;

export const RolloutGates = Type.Object({
  rolloutId: Id("Rollout id"),
  stageOrder: Type.Union([Type.Literal("NONE"), Type.Literal("IN_ORDER")]),
  createdBy: Type.String(),
  paused: Nullable(Pause),
  canPause: Type.Boolean({ description: "Whether the caller may pause or resume the rollout" }),
  stages: Type.Array(StageGate),
});
export type RolloutGates = Static<typeof RolloutGates>;
