import { describe, expect, it } from "vitest";
import {
  deliveryBackoffMs,
  eventLink,
  eventMessage,
  nextAttemptAt,
  signatureHeaders,
  verifySignature,
  type EventFacts,
} from "./webhooks.js";

const event = (over: Partial<EventFacts> = {}): EventFacts => ({
  uid: "5f0c6e39-2f7e-4d1e-9a8e-3c2b1a0f9e8d",
  kind: "TASK_RUN_FAILED",
  occurredAt: new Date("2030-01-01T00:00:00Z"),
  projectId: "shop",
  rollout: { id: "7", title: "Add events" },
  stage: { id: "3", environment: "prod" },
  task: { id: "42", instanceId: "main", database: "orders" },
  runId: "99",
  facts: { error: 'relation "x"\n does not exist' },
  ...over,
});

describe("webhook messages", () => {
  it("say what happened in one line, naming rollout, stage, task and database, quoting the error", () => {
    expect(eventMessage(event())).toBe(
      'Task run FAILED in rollout "Add events" (#7), stage prod, task #42 on main/orders: "relation "x" does not exist"',
    );
    expect(eventMessage(event({ kind: "ROLLOUT_DONE", stage: null, task: null, facts: {} }))).toBe(
      'Rollout done: every task of rollout "Add events" (#7) is DONE or SKIPPED',
    );
    expect(eventMessage(event({ kind: "RUN_WAITING_LONG", facts: { cause: "DATABASE_BUSY", minutes: 16 } }))).toContain(
      "waiting 16 min on DATABASE_BUSY",
    );
  });

  it("link to the rollout page under the public URL, or nowhere without one", () => {
    expect(eventLink(event(), "https://runway.example.com/")).toBe("https://runway.example.com/rollouts/7?task=42");
    expect(eventLink(event(), null)).toBeNull();
    // A stage's event (an approval) opens the rollout filtered to the stage.
    expect(eventLink(event({ task: null }), "https://runway.example.com")).toBe("https://runway.example.com/rollouts/7?stage=3");
  });

  it("a stage waiting for approval names the rollout, the stage (its environment and place) and who may approve", () => {
    const waiting = (facts: Record<string, unknown>) =>
      eventMessage(event({ kind: "STAGE_APPROVAL_WAITING", task: null, runId: null, facts }));
    expect(waiting({ role: "releaser", approverNotCreator: false, createdBy: "alice", position: 2, stages: 3 })).toBe(
      'Stage waiting for approval by a releaser or admin: rollout "Add events" (#7), stage prod (stage 2 of 3)',
    );
    expect(waiting({ role: "admin", approverNotCreator: true, createdBy: "alice", position: 3, stages: 3 })).toBe(
      'Stage waiting for approval by an admin other than alice (the rollout\'s creator): rollout "Add events" (#7), stage prod (stage 3 of 3)',
    );
  });
});

describe("webhook signatures", () => {
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  it("verify with the right secret and body, and only within five minutes", () => {
    const headers = signatureHeaders({ secret, id: "msg_1", timestamp: 1_700_000_000, body: '{"a":1}' });
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(verifySignature({ secret, headers, body: '{"a":1}', nowS: 1_700_000_100 })).toBe(true);
    expect(verifySignature({ secret, headers, body: '{"a":2}', nowS: 1_700_000_100 })).toBe(false);
    expect(verifySignature({ secret, headers, body: '{"a":1}', nowS: 1_700_000_400 })).toBe(false);
  });
});

describe("delivery retries", () => {
  it("back off from 10 s, doubling, at most an hour apart", () => {
    expect([1, 2, 3, 4].map((n) => deliveryBackoffMs(n))).toEqual([10_000, 20_000, 40_000, 80_000]);
    expect(deliveryBackoffMs(20)).toBe(3_600_000);
    expect(deliveryBackoffMs(1000, 200, 2000)).toBe(2000);
  });

  it("give up once the next attempt would fall 24 h after the event", () => {
    const createdAt = new Date("2030-01-01T00:00:00Z");
    const at = (h: number) => new Date(createdAt.getTime() + h * 3600_000);
    expect(nextAttemptAt({ now: at(1), createdAt, attempts: 3 })).toEqual(new Date(at(1).getTime() + 40_000));
    expect(nextAttemptAt({ now: at(23.9), createdAt, attempts: 20 })).toBeNull();
  });
});
