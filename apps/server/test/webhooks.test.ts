import { afterEach, describe, expect, it } from "vitest";
import { sql } from "kysely";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { verifySignature } from "../src/domain/webhooks.js";
import { createDb, createPool } from "../src/store/db.js";
import { PendingScheduler } from "../src/scheduler/pending-scheduler.js";
import { RunningScheduler } from "../src/scheduler/running-scheduler.js";
import type { WebhookDeliveryDeps } from "../src/scheduler/webhook-delivery.js";
import { taskRunsFinish } from "../src/store/runs.js";
import { recordEvent } from "../src/store/webhook-events.js";
import { useApiApp } from "./helpers/api-app.js";
import { testSecrets, taskSpec } from "./helpers/api.js";
import { createTestDatabase, waitFor } from "./helpers/db.js";
import { generateKey, SecretBox } from "../src/secrets/secret-box.js";
import { secretsRotate, secretsStartup } from "../src/secrets/startup.js";
import { projectCreate } from "../src/store/projects.js";
import { webhookCreate } from "../src/store/webhooks.js";
import { Metrics } from "../src/metrics.js";
import { startRuntime } from "./helpers/runtime.js";
import { DeferredExecutor } from "./helpers/executors.js";
import { startReceiver } from "./helpers/webhook-receiver.js";
import { addWebhook as addWebhookVia, deliverUntil, PUBLIC_URL, testDeliverer } from "./helpers/webhook-delivery.js";

const api = useApiApp();
const clock = { now: () => new Date() };
const PG_ERROR = 'relation "orders" does not exist';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function receiver(...args: Parameters<typeof startReceiver>) {
  const r = await startReceiver(...args);
  cleanups.push(() => r.close());
  return r;
}

const addWebhook = (projectId: string, body: Record<string, unknown>) => addWebhookVia(api, projectId, body);

/** A delivery loop driven by the test (runOnce by hand); every attempt is reported. */
const deliverer = (over: Partial<WebhookDeliveryDeps> = {}) => testDeliverer(api, cleanups, over);

/** Runs the rollout's tasks and ends each run as `outcome` says, through the running scheduler (the owner's transition). */
async function runTasks(rolloutId: string, taskIds: string[], outcome: "DONE" | "FAILED") {
  const res = await api.call(api.releaser, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/tasks/run`, payload: { taskIds } });
  expect(res.statusCode, res.body).toBe(200);
  await new PendingScheduler({ db: api.db, clock, replicaId: "p", fullPassIntervalMs: 1e9 }).runOnce();
  const exec = new DeferredExecutor();
  const running = new RunningScheduler({ db: api.db, clock, replicaId: "r", concurrency: 10, leaseTtlMs: 60_000, executorFor: () => exec });
  await running.runOnce();
  await waitFor(async () => exec.executing.length === taskIds.length, { what: "runs executing" });
  for (const id of exec.executing)
    exec.finish(
      id,
      outcome === "FAILED"
        ? { status: "FAILED", result: { error: { message: PG_ERROR, code: "42P01" } }, message: PG_ERROR }
        : { status: "DONE", result: {}, message: "applied" },
    );
  await waitFor(
    async () => {
      const rows = await api.db.selectFrom("task").select("status").where("id", "in", taskIds).execute();
      return rows.every((r) => r.status === outcome);
    },
    { what: `tasks ${outcome}` },
  );
  return running;
}

describe("webhook payloads", () => {
  it("a FAILED run is sent to every kind in its format, naming rollout, stage, task, database and quoting the error", async () => {
    const rx = await receiver();
    const { projectId, instanceId } = await api.project();
    const kinds = ["slack", "teams", "discord", "google_chat", "generic"] as const;
    const hooks = new Map<string, { secret: string | null }>();
    for (const kind of kinds) hooks.set(kind, await addWebhook(projectId, { url: rx.url(`/${kind}`), kind, events: ["TASK_RUN_FAILED"] }));
    const { rolloutId, taskIds } = await api.rollout(projectId, [[taskSpec(instanceId, "shop")]]);
    await runTasks(rolloutId, taskIds, "FAILED");

    const { d } = deliverer();
    await deliverUntil(d, () => rx.received.length >= kinds.length, "five deliveries");
    const by = (kind: string) => rx.received.find((r) => r.path === `/${kind}`)!;
    const link = `${PUBLIC_URL}/rollouts/${rolloutId}?task=${taskIds[0]}`;
    const expectLine = (text: string) => {
      expect(text).toContain("FAILED");
      expect(text).toContain(`rollout "r" (#${rolloutId})`);
      expect(text).toContain("stage env0");
      expect(text).toContain(`task #${taskIds[0]} on ${instanceId}/shop`);
      expect(text).toContain(`"${PG_ERROR}"`);
    };
    expectLine(String(by("slack").json.text));
    expect(by("slack").json.text).toContain(`<${link}|`);
    expectLine(String(by("discord").json.content));
    expect(by("discord").json.content).toContain(link);
    expectLine(String(by("google_chat").json.text));
    const card = (
      by("teams").json.attachments as { contentType: string; content: { body: { text: string }[]; actions: { url: string }[] } }[]
    )[0]!;
    expect(card.contentType).toBe("application/vnd.microsoft.card.adaptive");
    expectLine(card.content.body[0]!.text);
    expect(card.content.actions[0]!.url).toBe(link);
    // Chat services get no signature; generic payloads do.
    expect(by("slack").headers["webhook-signature"]).toBeUndefined();

    const g = by("generic");
    expect(g.json).toMatchObject({ type: "TASK_RUN_FAILED", url: link, projectId, facts: { error: PG_ERROR } });
    expect(g.json.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(g.headers["webhook-id"]).toBe(g.json.id);
    const secret = hooks.get("generic")!.secret!;
    expect(secret).toMatch(/^whsec_/);
    expect(verifySignature({ secret, headers: g.headers, body: g.body, nowS: Date.now() / 1000 })).toBe(true);
    // The Standard Webhooks reference library (what docs/api.md points receivers to) agrees.
    const std = new StandardWebhook(secret).verify(g.body, g.headers as Record<string, string>);
    expect(std).toMatchObject({ id: g.json.id, type: "TASK_RUN_FAILED" });
    // Any change to the body or a wrong secret fails verification.
    expect(verifySignature({ secret, headers: g.headers, body: g.body.replace("FAILED", "DONE"), nowS: Date.now() / 1000 })).toBe(false);
    expect(verifySignature({ secret: "whsec_AAAA", headers: g.headers, body: g.body, nowS: Date.now() / 1000 })).toBe(false);
    // An old timestamp is refused (replay).
    expect(verifySignature({ secret, headers: g.headers, body: g.body, nowS: Date.now() / 1000 + 3600 })).toBe(false);

    // The secret is never shown again, and is stored sealed.
    const list = await api.call(api.admin, { method: "GET", url: `/api/v1/projects/${projectId}/webhooks` });
    expect(list.body).not.toContain(secret);
    const stored = await api.db
      .selectFrom("webhook")
      .select("secret")
      .where("kind", "=", "generic")
      .where("project_id", "=", projectId)
      .executeTakeFirstOrThrow();
    expect(stored.secret).toMatch(/^rw1:/);
  });

  it("rollout DONE is sent once when every task is DONE or SKIPPED", async () => {
    const rx = await receiver();
    const { projectId, instanceId } = await api.project();
    await addWebhook(projectId, { url: rx.url(), kind: "generic", events: ["ROLLOUT_DONE"] });
    const { rolloutId, taskIds } = await api.rollout(projectId, [[taskSpec(instanceId, "a")], [taskSpec(instanceId, "b")]]);
    const skip = await api.call(api.releaser, {
      method: "POST",
      url: `/api/v1/rollouts/${rolloutId}/tasks/skip`,
      payload: { taskIds: [taskIds[1]], reason: "not needed" },
    });
    expect(skip.statusCode, skip.body).toBe(200);
    const events = () => api.db.selectFrom("webhook_event").select(["kind", "rollout_id"]).where("project_id", "=", projectId).execute();
    expect(await events()).toEqual([]);
    await runTasks(rolloutId, [taskIds[0]!], "DONE");
    expect(await events()).toEqual([{ kind: "ROLLOUT_DONE", rollout_id: rolloutId }]);
    const { d } = deliverer();
    await deliverUntil(d, () => rx.received.length === 1, "one delivery");
    expect(rx.received[0]!.json).toMatchObject({ type: "ROLLOUT_DONE", rollout: { id: rolloutId, title: "r" } });
  });
});

describe("rollout DONE under concurrency", () => {
  it("two transactions finishing a rollout's last two tasks at once record ROLLOUT_DONE exactly once", async () => {
    const { projectId, instanceId } = await api.project();
    const hook = await addWebhook(projectId, { url: "http://127.0.0.1:9/none", kind: "slack", events: ["ROLLOUT_DONE"] });
    const { rolloutId, taskIds } = await api.rollout(projectId, [[taskSpec(instanceId, "a"), taskSpec(instanceId, "b")]]);
    await api.call(api.releaser, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/tasks/run`, payload: { taskIds } });
    await new PendingScheduler({ db: api.db, clock, replicaId: "p", fullPassIntervalMs: 1e9 }).runOnce();
    const exec = new DeferredExecutor();
    const running = new RunningScheduler({
      db: api.db,
      clock,
      replicaId: "r",
      concurrency: 2,
      leaseTtlMs: 60_000,
      executorFor: () => exec,
    });
    await running.runOnce();
    await waitFor(async () => exec.started.length === 2, { what: "both runs executing" });
    // Each outcome in its own transaction on its own connection; neither commits before both have written.
    const pools = [createPool(api.t.url, 1), createPool(api.t.url, 1)];
    try {
      let arrive!: () => void;
      const bothWritten = new Promise<void>((resolve) => {
        let n = 0;
        arrive = () => ++n === 2 && resolve();
      });
      await Promise.all(
        exec.started.map((run, i) =>
          createDb(pools[i]!)
            .transaction()
            .execute(async (trx) => {
              const written = await taskRunsFinish(
                trx,
                [{ runId: run.id, replicaId: "r", epoch: run.epoch, status: "DONE", result: {}, message: "ok" }],
                {
                  now: new Date(),
                },
              );
              expect(written.has(run.id)).toBe(true);
              arrive();
              await bothWritten;
            }),
        ),
      );
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
    const events = await api.db.selectFrom("webhook_event").select("kind").where("rollout_id", "=", rolloutId).execute();
    expect(events).toEqual([{ kind: "ROLLOUT_DONE" }]);
    exec.finishAll();
    // Nobody listens at its URL: removed, so the file's other tests' delivery loops leave its delivery alone.
    await api.call(api.admin, { method: "DELETE", url: `/api/v1/projects/${projectId}/webhooks/${hook.id}` });
  });
});

describe("webhook delivery", () => {
  it("retries after a 500 and a timeout with the same id, and records every attempt", async () => {
    const rx = await receiver((_r, n) => (n === 1 ? { status: 500, body: "boom" } : n === 2 ? "hang" : { status: 204 }));
    const { projectId, instanceId } = await api.project();
    const hook = await addWebhook(projectId, { url: rx.url(), kind: "generic", events: ["TASK_RUN_FAILED"] });
    const { rolloutId, taskIds } = await api.rollout(projectId, [[taskSpec(instanceId, "x")]]);
    await runTasks(rolloutId, taskIds, "FAILED");
    const { d, attempts } = deliverer({ timeoutMs: 300 });
    await deliverUntil(d, () => attempts.some((a) => a.ok), "a delivered attempt");
    expect(attempts.map((a) => a.outcome)).toEqual(["retry", "retry", "delivered"]);
    expect(new Set(rx.received.map((r) => r.json.id)).size).toBe(1);

    const log = await api.call(api.admin, { method: "GET", url: `/api/v1/projects/${projectId}/webhooks/${hook.id}/deliveries` });
    const [delivery] = log.json().deliveries;
    expect(delivery).toMatchObject({ state: "DELIVERED", attempts: 3, event: "TASK_RUN_FAILED" });
    expect(delivery.lastAttempts.map((a: { statusCode: number | null; ok: boolean }) => [a.statusCode, a.ok])).toEqual([
      [204, true],
      [null, false],
      [500, false],
    ]);
    expect(delivery.lastAttempts[1].error).toContain("no answer within 300 ms");
    expect(delivery.lastAttempts[2].error).toContain("HTTP 500: boom");

    // Redeliver: the same event id again.
    const re = await api.call(api.admin, {
      method: "POST",
      url: `/api/v1/projects/${projectId}/webhooks/${hook.id}/deliveries/${delivery.id}/redeliver`,
    });
    expect(re.statusCode, re.body).toBe(204);
    await deliverUntil(d, () => rx.received.length === 4, "the redelivery");
    expect(rx.received[3]!.json.id).toBe(delivery.eventId);
  });

  it("gives up 24 h after the event", async () => {
    const rx = await receiver(() => ({ status: 503 }));
    const { projectId, instanceId } = await api.project();
    await addWebhook(projectId, { url: rx.url(), kind: "slack", events: ["TASK_RUN_FAILED"] });
    const { rolloutId, taskIds } = await api.rollout(projectId, [[taskSpec(instanceId, "x")]]);
    await runTasks(rolloutId, taskIds, "FAILED");
    const late = { now: () => new Date(Date.now() + 25 * 3600 * 1000) };
    const { d, attempts } = deliverer({ clock: late, backoffMs: () => 10_000 });
    await deliverUntil(d, () => attempts.length === 1, "one attempt");
    expect(attempts[0]!.outcome).toBe("gave_up");
  });

  it("a killed replica's claimed delivery is delivered by another; the late owner's outcome is fenced out", async () => {
    const rx = await receiver((_r, n) => (n === 1 ? "hang" : { status: 200 }));
    const { projectId, instanceId } = await api.project();
    await addWebhook(projectId, { url: rx.url(), kind: "generic", events: ["TASK_RUN_FAILED"] });
    const { rolloutId, taskIds } = await api.rollout(projectId, [[taskSpec(instanceId, "x")]]);
    await runTasks(rolloutId, taskIds, "FAILED");
    // Replica A claims and hangs (as good as dead: it never answers within its lease).
    const a = deliverer({ replicaId: "hooks-a", timeoutMs: 60_000, leaseMs: 1_000 });
    expect(await a.d.runOnce()).toBe(1);
    await waitFor(async () => rx.received.length === 1, { what: "A's request" });
    // Replica B, once A's lease has ended (B's clock is a minute on), claims it and delivers.
    const b = deliverer({ replicaId: "hooks-b", clock: { now: () => new Date(Date.now() + 60_000) } });
    await deliverUntil(b.d, () => b.attempts.length === 1, "B's attempt");
    expect(b.attempts[0]!.outcome).toBe("delivered");
    expect(rx.received[1]!.json.id).toBe(rx.received[0]!.json.id);
    // A's connection dies; its outcome no longer changes the delivery.
    rx.release();
    await a.d.drain();
    expect(a.attempts.map((x) => x.outcome)).toEqual(["lost"]);
    const row = await api.db.selectFrom("webhook_delivery").select(["state", "lease_owner"]).executeTakeFirstOrThrow();
    expect(row.state).toBe("DELIVERED");
  });

  it("a dead endpoint holds only its own slots: another webhook is delivered meanwhile", async () => {
    const dead = await receiver(() => "hang");
    const live = await receiver();
    const { projectId, instanceId } = await api.project();
    const deadHook = await addWebhook(projectId, { url: dead.url(), kind: "generic", events: ["TASK_RUN_FAILED"] });
    await addWebhook(projectId, { url: live.url(), kind: "generic", events: ["TASK_RUN_FAILED"] });
    const { rolloutId, taskIds } = await api.rollout(projectId, [[1, 2, 3, 4, 5].map((i) => taskSpec(instanceId, `d${i}`))]);
    await runTasks(rolloutId, taskIds, "FAILED");
    const { d } = deliverer({ timeoutMs: 60_000, perWebhook: 2, concurrency: 4 });
    await waitFor(
      async () => {
        await d.runOnce();
        return live.received.length === 5;
      },
      { what: "the live endpoint's five deliveries" },
    );
    expect(dead.received.length).toBe(2);
    // Removed: its remaining deliveries are no longer claimed (by this file's other tests either).
    await api.call(api.admin, { method: "DELETE", url: `/api/v1/projects/${projectId}/webhooks/${deadHook.id}` });
    dead.release();
  });

  it("a rolled-back FAILED transition records nothing and sends nothing", async () => {
    const rx = await receiver();
    const { projectId, instanceId } = await api.project();
    await addWebhook(projectId, { url: rx.url(), kind: "generic", events: ["TASK_RUN_FAILED", "ROLLOUT_PAUSED"] });
    const { rolloutId, taskIds } = await api.rollout(projectId, [[taskSpec(instanceId, "x")]]);
    await api.call(api.releaser, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/tasks/run`, payload: { taskIds } });
    await new PendingScheduler({ db: api.db, clock, replicaId: "p", fullPassIntervalMs: 1e9 }).runOnce();
    const exec = new DeferredExecutor();
    const running = new RunningScheduler({
      db: api.db,
      clock,
      replicaId: "r",
      concurrency: 1,
      leaseTtlMs: 60_000,
      executorFor: () => exec,
    });
    await running.runOnce();
    await waitFor(async () => exec.started.length === 1, { what: "the run executing" });
    const run = exec.started[0]!;
    const undo = new Error("rolled back");
    await expect(
      api.db.transaction().execute(async (trx) => {
        const written = await taskRunsFinish(
          trx,
          [{ runId: run.id, replicaId: "r", epoch: run.epoch, status: "FAILED", result: {}, message: PG_ERROR }],
          {
            now: new Date(),
          },
        );
        expect(written.has(run.id)).toBe(true);
        await recordEvent(trx, { kind: "ROLLOUT_PAUSED", rolloutId, facts: { by: "test" }, now: new Date() });
        expect((await sql<{ n: string }>`SELECT count(*) AS n FROM webhook_event`.execute(trx)).rows[0]!.n).not.toBe("0");
        throw undo;
      }),
    ).rejects.toBe(undo);
    expect(await api.db.selectFrom("webhook_event").select("id").where("project_id", "=", projectId).execute()).toEqual([]);
    const deliveries = await api.db
      .selectFrom("webhook_delivery")
      .innerJoin("webhook", "webhook.id", "webhook_delivery.webhook_id")
      .select("webhook_delivery.id")
      .where("webhook.project_id", "=", projectId)
      .execute();
    expect(deliveries).toEqual([]);
    const { d } = deliverer();
    await d.runOnce();
    await d.drain();
    expect(rx.received).toEqual([]);
    exec.finishAll();
  });

  it("pausing a rollout records ROLLOUT_PAUSED in the pause's transaction, with who and why", async () => {
    const rx = await receiver();
    const { projectId, instanceId } = await api.project();
    await addWebhook(projectId, { url: rx.url("/p"), kind: "generic", events: ["ROLLOUT_PAUSED"] });
    const { rolloutId } = await api.rollout(projectId, [[taskSpec(instanceId, "x")]]);
    const res = await api.call(api.releaser, {
      method: "POST",
      url: `/api/v1/rollouts/${rolloutId}/pause`,
      payload: { reason: "db migration window" },
    });
    expect(res.statusCode, res.body).toBe(200);
    const events = await api.db.selectFrom("webhook_event").select(["kind", "facts"]).where("rollout_id", "=", rolloutId).execute();
    expect(events).toMatchObject([{ kind: "ROLLOUT_PAUSED", facts: { by: api.releaser.username, reason: "db migration window" } }]);
  });

  it("recordEvent with a dedupe key records once; a test event goes to its webhook only", async () => {
    const rx = await receiver();
    const { projectId, instanceId } = await api.project();
    const a = await addWebhook(projectId, { url: rx.url("/a"), kind: "discord", events: ["ROLLOUT_PAUSED"] });
    await addWebhook(projectId, { url: rx.url("/b"), kind: "slack", events: ["TASK_RUN_FAILED"] });
    const { rolloutId } = await api.rollout(projectId, [[taskSpec(instanceId, "x")]]);
    const now = new Date();
    const first = await recordEvent(api.db, {
      kind: "ROLLOUT_PAUSED",
      rolloutId,
      facts: { by: "circuit breaker" },
      dedupeKey: `pause:${rolloutId}:1`,
      now,
    });
    expect(first).not.toBeNull();
    expect(await recordEvent(api.db, { kind: "ROLLOUT_PAUSED", rolloutId, dedupeKey: `pause:${rolloutId}:1`, now })).toBeNull();
    // Nobody wants approvals here: nothing is recorded.
    expect(await recordEvent(api.db, { kind: "STAGE_APPROVAL_WAITING", rolloutId, now })).toBeNull();
    const test = await api.call(api.admin, { method: "POST", url: `/api/v1/projects/${projectId}/webhooks/${a.id}/test` });
    expect(test.statusCode, test.body).toBe(202);
    const { d } = deliverer();
    await deliverUntil(d, () => rx.received.length === 2, "two deliveries");
    expect(rx.received.every((r) => r.path === "/a")).toBe(true);
    expect(rx.received.map((r) => String(r.json.content)).sort()).toEqual([
      expect.stringContaining("Rollout paused"),
      expect.stringContaining("Test event"),
    ]);
  });

  it("a run waiting longer than the webhook's threshold on one cause is reported once", async () => {
    const rx = await receiver();
    const { projectId, instanceId } = await api.project();
    await addWebhook(projectId, { url: rx.url(), kind: "generic", events: ["RUN_WAITING_LONG"], waitAlertMinutes: 15 });
    const { rolloutId, taskIds } = await api.rollout(projectId, [[taskSpec(instanceId, "x")]]);
    const runAt = new Date(Date.now() + 3600_000).toISOString();
    await api.call(api.releaser, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/tasks/run`, payload: { taskIds, runAt } });
    await new PendingScheduler({ db: api.db, clock, replicaId: "p", fullPassIntervalMs: 1e9 }).runOnce();
    const at = (min: number) => ({ now: () => new Date(Date.now() + min * 60_000) });
    for (const min of [0, 10, 16, 20]) {
      const { d } = deliverer({ clock: at(min), longWaitIntervalMs: 0 });
      await d.runOnce();
      await d.drain();
    }
    expect(rx.received.map((r) => r.json.type)).toEqual(["RUN_WAITING_LONG"]);
    expect(rx.received[0]!.json).toMatchObject({ facts: { cause: "RUN_AT" } });
    expect(String(rx.received[0]!.json.message)).toMatch(/^Run waiting 1[56] min on RUN_AT/);
  });
});

describe("webhook secrets at rest", () => {
  it("a key rotation re-seals signing secrets under the new key", async () => {
    const oldKey = generateKey();
    const newKey = generateKey();
    const t2 = await createTestDatabase();
    try {
      const oldBox = new SecretBox(oldKey);
      await secretsStartup(t2.db, oldBox);
      await projectCreate(t2.db, { id: "p", title: "p", parallelTasksPerRollout: 0 });
      const base = {
        projectId: "p",
        title: "h",
        url: "https://example.com/h",
        kind: "generic" as const,
        events: ["ROLLOUT_DONE" as const],
      };
      const hook = await webhookCreate(t2.db, { ...base, secret: "whsec_c2VjcmV0", createdBy: "t", now: new Date() }, oldBox);
      const both = new SecretBox(newKey, [oldKey]);
      expect(await secretsRotate(t2.db, both)).toEqual({ resealed: 1 });
      const row = await t2.db.selectFrom("webhook").select("secret").where("id", "=", hook.id).executeTakeFirstOrThrow();
      expect(new SecretBox(newKey).open(row.secret!)).toBe("whsec_c2VjcmV0");
    } finally {
      await t2.close();
    }
  });
});

describe("webhooks in a replica's runtime", () => {
  it("the runtime's loop delivers on NOTIFY and counts deliveries by outcome and their latency in /metrics", async () => {
    const rx = await receiver((_r, n) => (n === 1 ? { status: 500 } : { status: 200 }));
    const { projectId } = await api.project();
    const hook = await addWebhook(projectId, { url: rx.url(), kind: "generic", events: ["ROLLOUT_DONE"] });
    const metrics = new Metrics();
    const r = await startRuntime({
      db: api.db,
      url: api.t.url,
      config: { replicaId: "hooks-runtime", pollIntervalMs: 60_000 },
      executorFor: () => new DeferredExecutor(),
      metrics,
      webhooks: { secrets: testSecrets, publicUrl: null, backoffMs: () => 0 },
    });
    cleanups.push(() => r.stop());
    const test = await api.call(api.admin, { method: "POST", url: `/api/v1/projects/${projectId}/webhooks/${hook.id}/test` });
    expect(test.statusCode).toBe(202);
    await waitFor(async () => rx.received.length === 2, { what: "a failed and a successful attempt", timeoutMs: 30_000 });
    const text = await waitFor(
      async () => {
        const t = await metrics.registry.metrics();
        return t.includes('runway_webhook_deliveries_total{outcome="delivered"} 1') && t;
      },
      { what: "the delivered count" },
    );
    expect(text).toContain('runway_webhook_deliveries_total{outcome="retry"} 1');
    expect(text).toMatch(/runway_webhook_delivery_latency_seconds_count 1/);
    expect(text).toMatch(/runway_webhook_attempt_duration_seconds_count 2/);
  });
});
