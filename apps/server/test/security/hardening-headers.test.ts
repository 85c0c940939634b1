import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { useApiApp } from "../helpers/api-app.js";
import { ADMIN_PASSWORD, call, login } from "../helpers/api.js";

/** Issue 11, hardening: security headers on every answer; no-store on answers that carry secrets; HSTS only over TLS. */
const api = useApiApp();
let app: FastifyInstance;
let dashboardDir: string;
beforeAll(() => {
  dashboardDir = mkdtempSync(path.join(os.tmpdir(), "runway-dash-"));
  writeFileSync(path.join(dashboardDir, "index.html"), "<!doctype html><title>Runway</title>");
});
afterAll(() => {
  rmSync(dashboardDir, { recursive: true, force: true });
});

function expectSecurityHeaders(res: LightMyRequestResponse, what: string) {
  const csp = String(res.headers["content-security-policy"]);
  expect(csp, what).toContain("default-src 'self'");
  expect(csp, what).toContain("script-src 'self';");
  expect(csp, what).not.toMatch(/script-src[^;]*unsafe/);
  expect(csp, what).toContain("frame-ancestors 'none'");
  expect(csp, what).toContain("object-src 'none'");
  expect(res.headers["x-content-type-options"], what).toBe("nosniff");
  expect(res.headers["referrer-policy"], what).toBe("no-referrer");
  expect(res.headers["x-frame-options"], what).toBe("DENY");
}

describe("security headers", () => {
  it("on API answers, errors, 404s, the dashboard and the API docs", async () => {
    app = await api.extraApp({ dashboardDir });
    const admin = await login(app, "admin", ADMIN_PASSWORD);
    const answers: [string, LightMyRequestResponse][] = [
      ["me", await call(app, admin, { method: "GET", url: "/api/v1/auth/me" })],
      ["401", await app.inject({ method: "GET", url: "/api/v1/projects" })],
      ["400", await call(app, admin, { method: "POST", url: "/api/v1/projects", payload: { id: "x" } })],
      ["api 404", await app.inject({ method: "GET", url: "/api/v1/nothing-here" })],
      ["dashboard", await app.inject({ method: "GET", url: "/" })],
      ["dashboard route", await app.inject({ method: "GET", url: "/projects/demo" })],
      ["docs", await app.inject({ method: "GET", url: "/api/docs/" })],
      ["docs js", await app.inject({ method: "GET", url: "/api/docs/static/swagger-ui-bundle.js" })],
      ["healthz", await app.inject({ method: "GET", url: "/healthz" })],
    ];
    for (const [what, res] of answers) expectSecurityHeaders(res, what);
    // Refused before routing (no hook runs): the headers a JSON error needs.
    const badUrl = await app.inject({ method: "GET", url: "/api/v1/projects/%E0%A4%A" });
    expect(badUrl.statusCode).toBe(400);
    expect(badUrl.headers).toMatchObject({
      "x-content-type-options": "nosniff",
      "x-frame-options": "DENY",
      "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    });
    expect(answers.find(([w]) => w === "dashboard")![1].statusCode).toBe(200);
    expect(answers.find(([w]) => w === "docs")![1].statusCode).toBe(200);
    for (const [what, res] of answers) expect(res.headers["strict-transport-security"], what).toBeUndefined();
  });

  it("Cache-Control: no-store on login, token creation and auth/me (they carry secrets)", async () => {
    app = api.app;
    const res = await app.inject({ method: "POST", url: "/api/v1/auth/login", payload: { username: "admin", password: ADMIN_PASSWORD } });
    expect(res.headers["cache-control"]).toBe("no-store");
    const admin = await login(app, "admin", ADMIN_PASSWORD);
    const token = await call(app, admin, { method: "POST", url: "/api/v1/tokens", payload: { name: "x", expiresInDays: 30 } });
    expect(token.statusCode).toBe(201);
    expect(token.headers["cache-control"]).toBe("no-store");
    expect((await call(app, admin, { method: "GET", url: "/api/v1/auth/me" })).headers["cache-control"]).toBe("no-store");
  });

  it("HSTS only over TLS: X-Forwarded-Proto https counts only with RUNWAY_TRUST_PROXY", async () => {
    const https = { "x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.1" };
    app = api.app;
    expect((await app.inject({ method: "GET", url: "/healthz", headers: https })).headers["strict-transport-security"]).toBeUndefined();
    app = await api.extraApp({ env: { RUNWAY_TRUST_PROXY: "1" } });
    expect((await app.inject({ method: "GET", url: "/healthz", headers: https })).headers["strict-transport-security"]).toBe(
      "max-age=31536000; includeSubDomains",
    );
    expect(
      (await app.inject({ method: "GET", url: "/api/v1/auth/me", headers: https })).headers["strict-transport-security"],
    ).toBeDefined();
    expect(
      (await app.inject({ method: "GET", url: "/healthz", headers: { "x-forwarded-proto": "http" } })).headers["strict-transport-security"],
    ).toBeUndefined();
  });
});
