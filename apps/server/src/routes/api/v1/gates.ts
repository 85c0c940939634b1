import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyRequest } from "fastify";
import {
  errorResponses,
  Pause,
  PauseBody,
  ProjectParams,
  ProjectPolicies,
  RolloutGates,
  RolloutParams,
  StageDecision,
  StageDecisionBody,
  StageParams,
} from "@runway/shared/schemas";
import {
  projectPoliciesGet,
  projectPoliciesPut,
  rolloutGatesGet,
  rolloutPauseApi,
  rolloutResume,
  stageDecide,
  stageForDecision,
  type StageForDecision,
} from "../../../store/gates.js";
import { ApiError, ErrorCode, notFound } from "../../../plugins/app/api-error.js";
import { atLeast, effectiveRole, type EffectiveRole } from "../../../plugins/app/project-access.js";

const tags = ["release controls"];

/** The caller's role in the project the path names (project-access.ts has already checked the route's least role). */
function roleOf(req: FastifyRequest): EffectiveRole {
  return req.projectAccess?.role ?? effectiveRole(req.user!, null);
}

/** Why the caller may not decide on the stage, or null when they may. */
function decisionRefusal(req: FastifyRequest, stage: StageForDecision): ApiError | null {
  const who = req.user!.username;
  if (stage.approval === "none")
    return new ApiError(409, ErrorCode.FAILED_PRECONDITION, `stage ${stage.stageId} (${stage.environment}) needs no approval`);
  const role = roleOf(req);
  if (!atLeast(role, stage.approval))
    return new ApiError(
      403,
      ErrorCode.PERMISSION_DENIED,
      `approving ${stage.environment} needs the ${stage.approval} role; ${who} is ${role}`,
    );
  if (stage.approverNotCreator && stage.rolloutCreatedBy === who)
    return new ApiError(
      403,
      ErrorCode.PERMISSION_DENIED,
      `${stage.environment} must be approved by someone other than the rollout's creator (${who})`,
    );
  return null;
}

const gateRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, clock } = app.ctx;

  app.get(
    "/projects/:projectId/policies",
    {
      config: { auth: "viewer" },
      schema: {
        tags,
        summary: "A project's environment policies (auto-run, approvals) and circuit breaker",
        params: ProjectParams,
        response: { 200: ProjectPolicies, ...errorResponses },
      },
    },
    async (req) => projectPoliciesGet(db, req.params.projectId),
  );

  app.put(
    "/projects/:projectId/policies",
    {
      config: { auth: "admin", audit: "project.policies" },
      schema: {
        tags,
        summary: "Replace a project's environment policies and circuit breaker",
        description:
          "Approvals apply to waiting runs at the next scheduler pass; auto-run applies when a stage completes from now on; " +
          "the circuit breaker counts failed runs of each rollout since its last resume.",
        params: ProjectParams,
        body: ProjectPolicies,
        response: { 200: ProjectPolicies, ...errorResponses },
      },
    },
    async (req) => {
      req.audit.target = `project/${req.params.projectId}`;
      req.audit.detail = { ...req.body };
      return projectPoliciesPut(db, req.params.projectId, req.body, req.user!.username, clock.now());
    },
  );

  app.get(
    "/rollouts/:rolloutId/gates",
    {
      config: { auth: "viewer" },
      schema: {
        tags,
        summary: "A rollout's gates: stage order and progress, approvals, pause",
        description: "`canDecide` and `canPause` say what the caller may do.",
        params: RolloutParams,
        response: { 200: RolloutGates, ...errorResponses },
      },
    },
    async (req) => {
      const g = await rolloutGatesGet(db, req.params.rolloutId);
      if (!g) throw notFound(`rollout ${req.params.rolloutId} not found`);
      const role = roleOf(req);
      const stages = g.stages.map((s, i) => {
        const before =
          g.stageOrder === "IN_ORDER"
            ? g.stages
                .slice(0, i)
                .reverse()
                .find((e) => e.done < e.total)
            : undefined;
        const refusal = decisionRefusal(req, { ...s, rolloutCreatedBy: g.createdBy });
        return {
          ...s,
          waitingFor: before ? { stageId: before.stageId, environment: before.environment, done: before.done, total: before.total } : null,
          canDecide: refusal === null,
        };
      });
      return { ...g, stages, canPause: atLeast(role, "releaser") };
    },
  );

  for (const decision of ["APPROVED", "REJECTED"] as const) {
    const verb = decision === "APPROVED" ? "approve" : "reject";
    app.post(
      `/rollouts/:rolloutId/stages/:stageId/${verb}`,
      {
        config: { auth: "releaser", audit: `stage.${verb}` },
        schema: {
          tags,
          summary:
            decision === "APPROVED" ? "Approve a stage: its waiting runs may start" : "Reject a stage: its waiting runs are canceled",
          description:
            "Needs the role the stage's environment policy names (and, with approverNotCreator, someone other than the rollout's creator). " +
            "The latest decision counts; a rejection cancels the stage's PENDING and AVAILABLE runs with the comment.",
          params: StageParams,
          body: StageDecisionBody,
          response: { 200: StageDecision, ...errorResponses },
        },
      },
      async (req) => {
        const { rolloutId, stageId } = req.params;
        const comment = req.body.comment ?? "";
        req.audit.target = `stage/${stageId}`;
        req.audit.detail = { rolloutId, comment };
        const stage = await stageForDecision(db, rolloutId, stageId);
        const refusal = decisionRefusal(req, stage);
        if (refusal) throw refusal;
        return stageDecide(db, { rolloutId, stageId, decision, by: req.user!.username, comment, now: clock.now() });
      },
    );
  }

  app.post(
    "/rollouts/:rolloutId/pause",
    {
      config: { auth: "releaser", audit: "rollout.pause" },
      schema: {
        tags,
        summary: "Pause a rollout",
        description: "No run of it is promoted or claimed until it is resumed; AVAILABLE runs go back to PENDING, RUNNING ones finish.",
        params: RolloutParams,
        body: PauseBody,
        response: { 200: Pause, ...errorResponses },
      },
    },
    async (req) => {
      const reason = req.body.reason ?? "";
      req.audit.target = `rollout/${req.params.rolloutId}`;
      req.audit.detail = { reason };
      return rolloutPauseApi(db, { rolloutId: req.params.rolloutId, by: req.user!.username, reason, now: clock.now() });
    },
  );

  app.post(
    "/rollouts/:rolloutId/resume",
    {
      config: { auth: "releaser", audit: "rollout.resume" },
      schema: {
        tags,
        summary: "Resume a paused rollout",
        description: "Answers the pause that was lifted. The circuit breaker counts failures from now on.",
        params: RolloutParams,
        response: { 200: Pause, ...errorResponses },
      },
    },
    async (req) => {
      req.audit.target = `rollout/${req.params.rolloutId}`;
      return rolloutResume(db, { rolloutId: req.params.rolloutId, now: clock.now() });
    },
  );
};

export default gateRoutes;
