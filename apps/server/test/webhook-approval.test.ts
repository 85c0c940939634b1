import { afterEach, describe, expect, it } from "vitest";
import { verifySignature } from "../src/domain/webhooks.js";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { useApiApp } from "./helpers/api-app.js";
import { taskSpec } from "./helpers/api.js";
import { dropChangeMarks, overlappingFullPasses } from "./helpers/overlapping-passes.js";
import { addWebhook, deliverUntil, PUBLIC_URL, testDeliverer } from "./helpers/webhook-delivery.js";
import { startReceiver } from "./helpers/webhook-receiver.js";

/** Issue 18: STAGE_APPROVAL_WAITING, recorded by the pending pass that first holds a stage's run for an approval. */

const api = useApiApp();
const clock = { now: () => new Date() };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function receiver() {
  const r = await startReceiver();
  cleanups.push(() => r.close());
  return r;
}

/** A project whose `env1` stage needs an approval by `role`, with a rollout of two stages: env0 (task a), env1 (tasks b, c). */
async function approvalRollout(role: "releaser" | "admin" = "releaser", approverNotCreator = false) {
  const { projectId, instanceId } = await api.project();
  const put = await api.call(api.admin, {
    method: "PUT",
    url: `/api/v1/projects/${projectId}/policies`,
    payload: { circuitBreakerFailures: 0, environments: [{ environment: "env1", autoRun: false, approval: role, approverNotCreator }] },
  });
  expect(put.statusCode, put.body).toBe(200);
  const r = await api.rollout(projectId, [[taskSpec(instanceId, "a")], [taskSpec(instanceId, "b"), taskSpec(instanceId, "c")]]);
  return { projectId, instanceId, ...r };
}

const run = async (rolloutId: string, taskIds: string[]) => {
  const res = await api.call(api.releaser, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/tasks/run`, payload: { taskIds } });
  expect(res.statusCode, res.body).toBe(200);
  expect((res.json() as { results: { outcome: string }[] }).results.map((x) => x.outcome)).toEqual(taskIds.map(() => "CREATED"));
};

/** Skips env0's task: env1 is next in line. */
const skip = async (rolloutId: string, taskId: string) => {
  const res = await api.call(api.releaser, {
    method: "POST",
    url: `/api/v1/rollouts/${rolloutId}/tasks/skip`,
    payload: { taskIds: [taskId], reason: "not needed" },
  });
  expect(res.statusCode, res.body).toBe(200);
};

const events = (rolloutId: string) =>
  api.db
    .selectFrom("webhook_event")
    .select(["id", "kind", "stage_id", "facts"])
    .where("rollout_id", "=", rolloutId)
    .where("kind", "=", "STAGE_APPROVAL_WAITING")
    .orderBy("id")
    .execute();

/** Passes until none asks for a follow-up (bounded). */
async function settle(s: PendingScheduler) {
  for (let i = 0; i < 10; i++) if (!(await s.runOnce())?.more) return;
}

describe("STAGE_APPROVAL_WAITING", () => {
  it("is recorded when the stage is next and holds a run, once per wait, in every kind's format", async () => {
    const rx = await receiver();
    const r = await approvalRollout("releaser", true);
    const kinds = ["slack", "teams", "discord", "google_chat", "generic"] as const;
    const hooks = new Map<string, { secret: string | null }>();
    for (const kind of kinds)
      hooks.set(kind, await addWebhook(api, r.projectId, { url: rx.url(`/${kind}`), kind, events: ["STAGE_APPROVAL_WAITING"] }));
    const [first, second, third] = r.taskIds as [string, string, string];
    const [, stageId] = r.stageIds as [string, string];
    const s = new PendingScheduler({ db: api.db, clock, replicaId: "p", fullPassIntervalMs: 1e9 });

    // env1's run waits for env0 first (STAGE_GATE): not yet the approver's turn.
    await run(r.rolloutId, [second]);
    await settle(s);
    expect(await events(r.rolloutId)).toEqual([]);

    // env0 is done (skipped): env1 is next, and its run now waits for the approval.
    await skip(r.rolloutId, first);
    await settle(s);
    const recorded = await events(r.rolloutId);
    expect(recorded).toMatchObject([{ stage_id: stageId, facts: { role: "releaser", approverNotCreator: true, position: 2, stages: 2 } }]);

    // The stage's other task run later, a pause and resume (both rewrite the causes), and later passes,
    // full ones and another replica's included: the same wait, nothing more is recorded.
    await run(r.rolloutId, [third]);
    await settle(s);
    for (const verb of ["pause", "resume"]) {
      const res = await api.call(api.releaser, { method: "POST", url: `/api/v1/rollouts/${r.rolloutId}/${verb}`, payload: {} });
      expect(res.statusCode, res.body).toBe(200);
      await settle(s);
    }
    const causes = await api.db.selectFrom("run_wait").select("type").where("rollout_id", "=", r.rolloutId).execute();
    expect(causes.map((c) => c.type)).toEqual(["APPROVAL_REQUIRED", "APPROVAL_REQUIRED"]);
    await s.runOnce({ full: true });
    await new PendingScheduler({ db: api.db, clock, replicaId: "q", fullPassIntervalMs: 1e9 }).runOnce({ full: true });
    expect(await events(r.rolloutId)).toHaveLength(1);

    const { d } = testDeliverer(api, cleanups);
    await deliverUntil(d, () => rx.received.length >= kinds.length, "five deliveries");
    expect(rx.received).toHaveLength(kinds.length);
    const by = (kind: string) => rx.received.find((x) => x.path === `/${kind}`)!;
    const link = `${PUBLIC_URL}/rollouts/${r.rolloutId}?stage=${stageId}`;
    const expectLine = (text: string) => {
      expect(text).toContain("Stage waiting for approval by a releaser or admin");
      expect(text).toContain(`other than ${api.releaser.username} (the rollout's creator)`);
      expect(text).toContain(`rollout "r" (#${r.rolloutId})`);
      expect(text).toContain("stage env1 (stage 2 of 2)");
    };
    expectLine(String(by("slack").json.text));
    expect(by("slack").json.text).toContain(`<${link}|`);
    expectLine(String(by("discord").json.content));
    expect(by("discord").json.content).toContain(link);
    expectLine(String(by("google_chat").json.text));
    expect(by("google_chat").json.text).toContain(link);
    const card = (by("teams").json.attachments as { content: { body: { text: string }[]; actions: { url: string }[] } }[])[0]!;
    expectLine(card.content.body[0]!.text);
    expect(card.content.actions[0]!.url).toBe(link);
    const g = by("generic");
    expect(g.json).toMatchObject({
      type: "STAGE_APPROVAL_WAITING",
      url: link,
      rollout: { id: r.rolloutId, title: "r" },
      stage: { id: stageId, environment: "env1" },
      task: null,
      facts: { role: "releaser" },
    });
    expectLine(String(g.json.message));
    const secret = hooks.get("generic")!.secret!;
    expect(verifySignature({ secret, headers: g.headers, body: g.body, nowS: Math.floor(Date.now() / 1000) })).toBe(true);
  });

  it("a rejection ends the wait: asking again sends again; an approval sends nothing", async () => {
    const r = await approvalRollout("admin");
    await addWebhook(api, r.projectId, { url: "http://127.0.0.1:9/none", kind: "slack", events: ["STAGE_APPROVAL_WAITING"] });
    const [first, second] = r.taskIds as [string, string];
    const [, stageId] = r.stageIds as [string, string];
    const s = new PendingScheduler({ db: api.db, clock, replicaId: "p", fullPassIntervalMs: 1e9 });
    await skip(r.rolloutId, first);
    await run(r.rolloutId, [second]);
    await settle(s);
    expect(await events(r.rolloutId)).toHaveLength(1);

    const decide = async (verb: "approve" | "reject") => {
      const res = await api.call(api.admin, {
        method: "POST",
        url: `/api/v1/rollouts/${r.rolloutId}/stages/${stageId}/${verb}`,
        payload: { comment: verb },
      });
      expect(res.statusCode, res.body).toBe(200);
    };
    await decide("reject");
    await settle(s);
    // The rejection canceled the run; running the task again is a new request for approval.
    await run(r.rolloutId, [second]);
    await settle(s);
    expect(await events(r.rolloutId)).toHaveLength(2);
    await decide("approve");
    await settle(s);
    expect(await events(r.rolloutId)).toHaveLength(2);
    const runs = await api.db.selectFrom("task_run").select("status").where("task_id", "=", second).orderBy("id").execute();
    expect(runs.map((x) => x.status)).toEqual(["CANCELED", "AVAILABLE"]);
    // Nobody listens at its URL: removed, so later delivery loops leave its deliveries alone.
    await api.db.updateTable("webhook").set({ deleted: true }).where("project_id", "=", r.projectId).execute();
  });

  it("two replicas' passes deciding at once record one event, even when the pass lock lets both in", async () => {
    const r = await approvalRollout();
    const hook = await addWebhook(api, r.projectId, {
      url: "http://127.0.0.1:9/none",
      kind: "generic",
      events: ["STAGE_APPROVAL_WAITING"],
    });
    await skip(r.rolloutId, r.taskIds[0]!);
    await run(r.rolloutId, [r.taskIds[1]!]);
    await dropChangeMarks(api.db);

    // Both passes decide and write before either commits (the second waits on the first's cause row).
    const results = await overlappingFullPasses(api.t.url, api.db, clock);
    expect(results.every((x) => x !== null)).toBe(true);
    expect(await events(r.rolloutId)).toHaveLength(1);
    const deliveries = await api.db.selectFrom("webhook_delivery").select("id").where("webhook_id", "=", hook.id).execute();
    expect(deliveries).toHaveLength(1);
    await api.db.updateTable("webhook").set({ deleted: true }).where("id", "=", hook.id).execute();
  });
});
