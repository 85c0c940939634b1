import { describe, expect, it } from "vitest";
import { useApiApp } from "../helpers/api-app.js";
import { errorOf, taskSpec } from "../helpers/api.js";

/** Release controls over HTTP: policies, approve/reject, pause/resume, the gates view; roles and audit. */

const api = useApiApp();

const policies = (approval: "none" | "releaser" | "admin", approverNotCreator = false) => ({
  circuitBreakerFailures: 2,
  environments: [
    { environment: "env0", autoRun: false, approval: "none", approverNotCreator: false },
    { environment: "env1", autoRun: true, approval, approverNotCreator },
  ],
});

async function audits(action: string) {
  return api.db
    .selectFrom("audit_log")
    .select(["actor", "target", "outcome", "detail"])
    .where("action", "=", action)
    .orderBy("id")
    .execute();
}

describe("policies", () => {
  it("GET answers the defaults; PUT (admin only) replaces them, audited", async () => {
    const { projectId } = await api.project();
    const url = `/api/v1/projects/${projectId}/policies`;
    expect((await api.call(api.viewer, { method: "GET", url })).json()).toEqual({ circuitBreakerFailures: 0, environments: [] });
    const denied = await api.call(api.releaser, { method: "PUT", url, payload: policies("releaser") });
    expect(denied.statusCode).toBe(403);
    const put = await api.call(api.admin, { method: "PUT", url, payload: policies("releaser") });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual(policies("releaser"));
    expect((await api.call(api.viewer, { method: "GET", url })).json()).toEqual(policies("releaser"));
    const bad = await api.call(api.admin, {
      method: "PUT",
      url,
      payload: { ...policies("admin"), environments: [policies("admin").environments[0], policies("admin").environments[0]] },
    });
    expect(bad.statusCode).toBe(400);
    expect(errorOf(bad).code).toBe("INVALID_ARGUMENT");
    expect((await audits("project.policies")).at(-2)).toMatchObject({ actor: "admin", target: `project/${projectId}`, outcome: "SUCCESS" });
  });
});

describe("approve / reject", () => {
  it("needs the policy's role, refuses the rollout's creator when asked to, records who/when/comment, audited", async () => {
    const { projectId, instanceId } = await api.project();
    await api.call(api.admin, { method: "PUT", url: `/api/v1/projects/${projectId}/policies`, payload: policies("releaser", true) });
    const r = await api.rollout(projectId, [[taskSpec(instanceId, "a")], [taskSpec(instanceId, "b")]]);
    const approve = (who: typeof api.admin, stageId: string, comment?: string) =>
      api.call(who, {
        method: "POST",
        url: `/api/v1/rollouts/${r.rolloutId}/stages/${stageId}/approve`,
        payload: comment === undefined ? {} : { comment },
      });

    const notNeeded = await approve(api.admin, r.stageIds[0]!);
    expect(notNeeded.statusCode).toBe(409);
    expect(errorOf(notNeeded).code).toBe("FAILED_PRECONDITION");
    expect((await approve(api.viewer, r.stageIds[1]!)).statusCode).toBe(403);
    const creator = await approve(api.releaser, r.stageIds[1]!);
    expect(creator.statusCode).toBe(403);
    expect(errorOf(creator).message).toContain("other than the rollout's creator");

    const other = await api.user("releaser");
    const gatesBefore = (await api.call(other, { method: "GET", url: `/api/v1/rollouts/${r.rolloutId}/gates` })).json();
    expect(gatesBefore.stages.map((s: { canDecide: boolean }) => s.canDecide)).toEqual([false, true]);
    const ok = await approve(other, r.stageIds[1]!, "staging looks good");
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ decision: "APPROVED", by: other.username, comment: "staging looks good" });

    const rej = await api.call(api.admin, {
      method: "POST",
      url: `/api/v1/rollouts/${r.rolloutId}/stages/${r.stageIds[1]}/reject`,
      payload: { comment: "wait for Monday" },
    });
    expect(rej.statusCode).toBe(200);
    const gates = (await api.call(api.viewer, { method: "GET", url: `/api/v1/rollouts/${r.rolloutId}/gates` })).json();
    expect(gates).toMatchObject({
      rolloutId: r.rolloutId,
      stageOrder: "IN_ORDER",
      paused: null,
      canPause: false,
      stages: [
        { stageId: r.stageIds[0], environment: "env0", done: 0, total: 1, waitingFor: null, approval: "none", canDecide: false },
        {
          stageId: r.stageIds[1],
          environment: "env1",
          waitingFor: { stageId: r.stageIds[0], environment: "env0", done: 0, total: 1 },
          approval: "releaser",
          approverNotCreator: true,
          autoRun: true,
          decisions: [
            { decision: "REJECTED", by: "admin", comment: "wait for Monday" },
            { decision: "APPROVED", by: other.username, comment: "staging looks good" },
          ],
        },
      ],
    });
    expect(await audits("stage.approve")).toContainEqual(
      expect.objectContaining({ actor: other.username, target: `stage/${r.stageIds[1]}`, outcome: "SUCCESS" }),
    );
    expect(await audits("stage.reject")).toContainEqual(expect.objectContaining({ actor: "admin", outcome: "SUCCESS" }));
  });

  it("a stage of another rollout is not found", async () => {
    const { projectId, instanceId } = await api.project();
    const a = await api.rollout(projectId, [[taskSpec(instanceId, "a")]]);
    const b = await api.rollout(projectId, [[taskSpec(instanceId, "b")]]);
    const res = await api.call(api.admin, {
      method: "POST",
      url: `/api/v1/rollouts/${a.rolloutId}/stages/${b.stageIds[0]}/approve`,
      payload: {},
    });
    expect(res.statusCode).toBe(404);
  });
});

describe("pause / resume", () => {
  it("releasers pause and resume; a second pause or a resume of a running rollout conflicts; both audited", async () => {
    const { projectId, instanceId } = await api.project();
    const r = await api.rollout(projectId, [[taskSpec(instanceId, "a")]]);
    const url = (verb: string) => `/api/v1/rollouts/${r.rolloutId}/${verb}`;
    expect((await api.call(api.viewer, { method: "POST", url: url("pause"), payload: {} })).statusCode).toBe(403);
    const paused = await api.call(api.releaser, { method: "POST", url: url("pause"), payload: { reason: "errors up" } });
    expect(paused.statusCode).toBe(200);
    expect(paused.json()).toMatchObject({ by: api.releaser.username, reason: "errors up", automatic: false });
    const again = await api.call(api.releaser, { method: "POST", url: url("pause"), payload: {} });
    expect(again.statusCode).toBe(409);
    expect(errorOf(again).code).toBe("CONFLICT");
    const gates = (await api.call(api.releaser, { method: "GET", url: `/api/v1/rollouts/${r.rolloutId}/gates` })).json();
    expect(gates).toMatchObject({ paused: { by: api.releaser.username, reason: "errors up" }, canPause: true });

    const resumed = await api.call(api.releaser, { method: "POST", url: url("resume") });
    expect(resumed.statusCode).toBe(200);
    expect((await api.call(api.releaser, { method: "POST", url: url("resume") })).statusCode).toBe(409);
    expect((await audits("rollout.pause")).at(-1)).toMatchObject({ outcome: "CONFLICT" });
    expect(await audits("rollout.resume")).toContainEqual(
      expect.objectContaining({ actor: api.releaser.username, target: `rollout/${r.rolloutId}`, outcome: "SUCCESS" }),
    );
  });

  it("stageOrder NONE is accepted at creation and shown", async () => {
    const { projectId, instanceId } = await api.project();
    const res = await api.call(api.releaser, {
      method: "POST",
      url: `/api/v1/projects/${projectId}/rollouts`,
      payload: { title: "r", stageOrder: "NONE", stages: [{ environment: "x", tasks: [taskSpec(instanceId, "a")] }] },
    });
    expect(res.statusCode).toBe(201);
    const gates = (await api.call(api.viewer, { method: "GET", url: `/api/v1/rollouts/${res.json().id}/gates` })).json();
    expect(gates.stageOrder).toBe("NONE");
  });
});
