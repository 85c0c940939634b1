import { describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { useApiApp } from "../helpers/api-app.js";
import { ADMIN_PASSWORD, apiProject, apiRollout, call, errorOf, login, taskSpec, userWithRole, type Who } from "../helpers/api.js";
import { waitFor } from "../helpers/db.js";
import { openStream } from "../helpers/sse.js";

const api = useApiApp();
let b: FastifyInstance;
let baseB: string;
let adminB: Who;

/** A second replica beside the fixture's app; it listens, so SSE clients connect to it over HTTP. */
async function twoReplicas() {
  b = await api.extraApp({ env: { RUNWAY_REPLICA_ID: "replica-b" } });
  baseB = await b.listen({ port: 0, host: "127.0.0.1" });
  adminB = await login(b, "admin", ADMIN_PASSWORD);
}

describe("GET /events (SSE)", () => {
  it("a cancel through one replica reaches an SSE client of another", async () => {
    await twoReplicas();
    const { projectId, instanceId } = await apiProject(api.app, api.admin, "sse");
    const { rolloutId, taskIds } = await apiRollout(api.app, api.admin, projectId, [[taskSpec(instanceId, "a")]]);
    const other = await apiRollout(api.app, api.admin, projectId, [[taskSpec(instanceId, "b")]]);
    const runId = (
      await api.call(api.admin, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/tasks/run`, payload: { taskIds } })
    ).json().results[0].taskRunId;

    const viewer = await userWithRole(b, api.t, "viewer");
    const stream = await openStream(baseB, `/api/v1/events?rolloutId=${rolloutId}`, { cookie: viewer.headers.cookie! });
    try {
      expect(stream.status).toBe(200);
      expect(stream.contentType).toMatch(/^text\/event-stream/);
      await waitFor(async () => stream.events.find((e) => e.event === "ready"), { what: "ready event" });
      // A change to another rollout is not this stream's business.
      await api.call(api.admin, {
        method: "POST",
        url: `/api/v1/rollouts/${other.rolloutId}/tasks/run`,
        payload: { taskIds: other.taskIds },
      });
      const cancel = await api.call(api.admin, {
        method: "POST",
        url: `/api/v1/rollouts/${rolloutId}/task-runs/cancel`,
        payload: { taskRunIds: [runId] },
      });
      expect(cancel.json().results).toEqual([{ taskRunId: runId, outcome: "CANCELED" }]);
      const change = await waitFor(async () => stream.events.find((e) => e.event === "change"), { what: "change event on replica b" });
      expect(change.data).toEqual({ rolloutId });
      expect(stream.events.some((e) => e.event === "change" && (e.data as { rolloutId: string }).rolloutId === other.rolloutId)).toBe(
        false,
      );
      // The client refetches and sees the cancel, made on the other replica.
      const tasks = (await call(b, viewer, { method: "GET", url: `/api/v1/rollouts/${rolloutId}/tasks` })).json().tasks;
      expect(tasks[0].latestRun).toMatchObject({ status: "CANCELED", canceledBy: "admin" });
    } finally {
      await stream.close();
    }
  });

  it("without rolloutId a stream sees every rollout's changes; bearer tokens work", async () => {
    await twoReplicas();
    const { projectId, instanceId } = await apiProject(api.app, api.admin, "sse2");
    const tok = (await call(b, adminB, { method: "POST", url: "/api/v1/tokens", payload: { name: "sse" } })).json().token;
    const stream = await openStream(baseB, "/api/v1/events", { authorization: `Bearer ${tok}` });
    try {
      await waitFor(async () => stream.events.find((e) => e.event === "ready"), { what: "ready" });
      const { rolloutId } = await apiRollout(api.app, api.admin, projectId, [[taskSpec(instanceId, "x")]]);
      await waitFor(
        async () => stream.events.find((e) => e.event === "change" && (e.data as { rolloutId: string }).rolloutId === rolloutId),
        { what: "change for the new rollout" },
      );
    } finally {
      await stream.close();
    }
  });

  it("refuses anonymous clients, unknown rollouts and bad ids before streaming", async () => {
    await twoReplicas();
    expect(errorOf(await b.inject({ method: "GET", url: "/api/v1/events?rolloutId=1" })).status).toBe(401);
    expect(errorOf(await call(b, adminB, { method: "GET", url: "/api/v1/events?rolloutId=987654321" })).status).toBe(404);
    expect(errorOf(await call(b, adminB, { method: "GET", url: "/api/v1/events?rolloutId=abc" })).status).toBe(400);
    const notAcceptable = await call(b, adminB, { method: "GET", url: "/api/v1/events", headers: { accept: "application/json" } });
    expect(notAcceptable.statusCode).toBe(406);
  });

  it("closing the server ends open streams (shutdown is not held up by clients)", async () => {
    await twoReplicas();
    const stream = await openStream(baseB, "/api/v1/events", { cookie: adminB.headers.cookie! });
    await waitFor(async () => stream.events.find((e) => e.event === "ready"), { what: "ready" });
    expect(b.changeFeed.subscribers).toBe(1);
    await b.close();
    await stream.ended;
    expect(b.changeFeed.subscribers).toBe(0);
  });
});
