import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { replicaHeartbeat } from "../../src/store/replicas.js";
import { useApiApp } from "../helpers/api-app.js";
import { errorOf, taskSpec } from "../helpers/api.js";

const api = useApiApp();

describe("health, readiness, metrics", () => {
  it("healthz and readyz at / and under /api/v1, without credentials", async () => {
    for (const prefix of ["", "/api/v1"]) {
      expect((await api.app.inject({ method: "GET", url: `${prefix}/healthz` })).json()).toEqual({ status: "ok" });
      expect((await api.app.inject({ method: "GET", url: `${prefix}/readyz` })).json()).toEqual({ status: "ready" });
    }
  });

  it("readyz is 503 while a migration is missing", async () => {
    const applied = await api.t.pool.query<{ id: number; name: string; run_on: Date }>("DELETE FROM pgmigrations RETURNING *");
    try {
      const res = await api.app.inject({ method: "GET", url: "/readyz" });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ status: "not ready", code: "MIGRATIONS_PENDING" });
    } finally {
      for (const r of applied.rows)
        await api.t.pool.query("INSERT INTO pgmigrations (id, name, run_on) VALUES ($1, $2, $3)", [r.id, r.name, r.run_on]);
    }
  });

  it("metrics: runs by status and live replicas come from the database at scrape time", async () => {
    const { projectId, instanceId } = await api.project();
    const { rolloutId, taskIds } = await api.rollout(projectId, [[taskSpec(instanceId, "a"), taskSpec(instanceId, "b")]], api.admin);
    await api.call(api.admin, { method: "POST", url: `/api/v1/rollouts/${rolloutId}/tasks/run`, payload: { taskIds } });
    await replicaHeartbeat(api.db, { replicaId: "metrics-r1", now: new Date() });
    await replicaHeartbeat(api.db, { replicaId: "metrics-old", now: new Date(Date.now() - 3_600_000) });
    for (const url of ["/metrics", "/api/v1/metrics"]) {
      const res = await api.app.inject({ method: "GET", url });
      expect(res.statusCode).toBe(200);
      expect(res.headers["content-type"]).toMatch(/^text\/plain/);
      expect(res.body).toMatch(/^runway_task_runs\{status="PENDING"\} 2$/m);
      expect(res.body).toMatch(/^runway_task_runs\{status="RUNNING"\} 0$/m);
      expect(res.body).toMatch(/^runway_live_replicas 1$/m);
      for (const name of ["runway_pending_pass_duration_seconds", "runway_pickup_latency_seconds", "runway_runs_claimed_total"])
        expect(res.body).toContain(name);
    }
  });
});

describe("OpenAPI", () => {
  it("serves the document with every endpoint of the issue, examples and security schemes; and the UI", async () => {
    const doc = (await api.app.inject({ method: "GET", url: "/api/openapi.json" })).json();
    expect(doc.openapi).toBe("3.1.0");
    const expected: [string, string][] = [
      ["get", "/api/v1/projects"],
      ["post", "/api/v1/projects"],
      ["get", "/api/v1/projects/{projectId}"],
      ["patch", "/api/v1/projects/{projectId}"],
      ["get", "/api/v1/instances"],
      ["post", "/api/v1/instances"],
      ["get", "/api/v1/projects/{projectId}/rollouts"],
      ["post", "/api/v1/projects/{projectId}/rollouts"],
      ["get", "/api/v1/rollouts/{rolloutId}"],
      ["get", "/api/v1/rollouts/{rolloutId}/tasks"],
      ["post", "/api/v1/rollouts/{rolloutId}/tasks/run"],
      ["post", "/api/v1/rollouts/{rolloutId}/tasks/skip"],
      ["post", "/api/v1/rollouts/{rolloutId}/task-runs/cancel"],
      ["get", "/api/v1/tasks/{taskId}/runs"],
      ["get", "/api/v1/task-runs/{taskRunId}/logs"],
      ["get", "/api/v1/events"],
      ["post", "/api/v1/auth/login"],
      ["post", "/api/v1/auth/logout"],
      ["get", "/api/v1/auth/me"],
      ["get", "/api/v1/users"],
      ["post", "/api/v1/users"],
      ["patch", "/api/v1/users/{username}"],
      ["get", "/api/v1/tokens"],
      ["post", "/api/v1/tokens"],
      ["delete", "/api/v1/tokens/{id}"],
      ["get", "/api/v1/audit-log"],
      ["get", "/healthz"],
      ["get", "/readyz"],
      ["get", "/metrics"],
    ];
    for (const [method, p] of expected) expect(doc.paths[p]?.[method], `${method} ${p}`).toBeDefined();
    const run = doc.paths["/api/v1/rollouts/{rolloutId}/tasks/run"].post;
    expect(JSON.stringify(run.requestBody)).toContain("example");
    expect(Object.keys(doc.components.securitySchemes)).toEqual(expect.arrayContaining(["session", "bearer"]));
    const ui = await api.app.inject({ method: "GET", url: "/api/docs/" });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers["content-type"]).toMatch(/text\/html/);
  });
});

describe("dashboard", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "runway-dist-"));
    await mkdir(path.join(dir, "assets"));
    await writeFile(path.join(dir, "index.html"), "<!doctype html><title>Runway</title>");
    await writeFile(path.join(dir, "assets", "app.js"), "console.log('runway')");
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("serves the built dashboard with an SPA fallback; /api stays JSON", async () => {
    const app = await api.extraApp({ dashboardDir: dir });
    const root = await app.inject({ method: "GET", url: "/" });
    expect(root.body).toContain("<title>Runway</title>");
    const deep = await app.inject({ method: "GET", url: "/rollouts/12?tab=tasks" });
    expect(deep.statusCode).toBe(200);
    expect(deep.headers["content-type"]).toMatch(/text\/html/);
    expect(deep.body).toContain("<title>Runway</title>");
    expect((await app.inject({ method: "GET", url: "/assets/app.js" })).body).toContain("runway");
    expect(errorOf(await app.inject({ method: "GET", url: "/assets/missing.js" })).status).toBe(404);
    expect(errorOf(await app.inject({ method: "GET", url: "/api/v1/nothing" })).code).toBe("NOT_FOUND");
    expect(errorOf(await app.inject({ method: "POST", url: "/somewhere" })).status).toBe(404);
  });

  it("without a build, / is a JSON 404", async () => {
    expect(errorOf(await api.app.inject({ method: "GET", url: "/" })).status).toBe(404);
  });
});
