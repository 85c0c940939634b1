import { describe, expect, it } from "vitest";
import { useApiApp } from "../helpers/api-app.js";
import { errorOf, testSecrets } from "../helpers/api.js";

const api = useApiApp();

describe("projects", () => {
  it("create, get, list, patch, delete", async () => {
    const created = await api.call(api.admin, {
      method: "POST",
      url: "/api/v1/projects",
      payload: { id: "payments", title: "Payments", parallelTasksPerRollout: 3 },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toEqual({ id: "payments", title: "Payments", parallelTasksPerRollout: 3 });
    const noLimit = await api.call(api.admin, { method: "POST", url: "/api/v1/projects", payload: { id: "billing", title: "Billing" } });
    expect(noLimit.json().parallelTasksPerRollout).toBe(0);
    expect((await api.call(api.viewer, { method: "GET", url: "/api/v1/projects/payments" })).json().title).toBe("Payments");
    const list = (await api.call(api.viewer, { method: "GET", url: "/api/v1/projects" })).json().projects.map((p: { id: string }) => p.id);
    expect(list).toEqual(expect.arrayContaining(["payments", "billing"]));
    const patched = await api.call(api.admin, {
      method: "PATCH",
      url: "/api/v1/projects/payments",
      payload: { parallelTasksPerRollout: 1 },
    });
    expect(patched.json()).toEqual({ id: "payments", title: "Payments", parallelTasksPerRollout: 1 });
    expect((await api.call(api.admin, { method: "DELETE", url: "/api/v1/projects/billing" })).statusCode).toBe(204);
    expect(errorOf(await api.call(api.viewer, { method: "GET", url: "/api/v1/projects/billing" })).code).toBe("NOT_FOUND");
  });

  it("errors: duplicate 409, unknown 404, bad ids, bad fields 400", async () => {
    await api.call(api.admin, { method: "POST", url: "/api/v1/projects", payload: { id: "dup", title: "D" } });
    expect(
      errorOf(await api.call(api.admin, { method: "POST", url: "/api/v1/projects", payload: { id: "dup", title: "D" } })),
    ).toMatchObject({ status: 409, code: "CONFLICT", message: 'project "dup" already exists' });
    expect(errorOf(await api.call(api.admin, { method: "GET", url: "/api/v1/projects/missing" }))).toMatchObject({
      status: 404,
      code: "NOT_FOUND",
    });
    expect(errorOf(await api.call(api.admin, { method: "PATCH", url: "/api/v1/projects/missing", payload: { title: "x" } })).status).toBe(
      404,
    );
    expect(errorOf(await api.call(api.admin, { method: "DELETE", url: "/api/v1/projects/missing" })).status).toBe(404);
    expect(errorOf(await api.call(api.admin, { method: "GET", url: "/api/v1/projects/Bad_Id" })).message).toMatch(
      /^params\/projectId must match pattern/,
    );
    const bad = [
      { id: "ok-id", title: "" },
      { id: "ok-id", title: "t", parallelTasksPerRollout: -1 },
      { id: "ok-id", title: "t", parallelTasksPerRollout: "2" },
      { id: "ok-id", title: "t", parallelTasksPerRollout: 1.5 },
      { id: "1abc", title: "t" },
      { id: "ok-id", title: "t\u0000" },
      { id: "ok-id" },
    ];
    for (const payload of bad)
      expect(errorOf(await api.call(api.admin, { method: "POST", url: "/api/v1/projects", payload })).status).toBe(400);
    expect(errorOf(await api.call(api.admin, { method: "PATCH", url: "/api/v1/projects/dup", payload: {} })).status).toBe(400);
    expect(errorOf(await api.call(api.admin, { method: "PATCH", url: "/api/v1/projects/dup", payload: { id: "other" } })).message).toBe(
      'body has an unknown field "id"',
    );
  });

  it("roles: viewers and releasers read but cannot change projects; nobody anonymous", async () => {
    await api.call(api.admin, { method: "POST", url: "/api/v1/projects", payload: { id: "roles", title: "R" } });
    for (const role of ["viewer", "releaser"] as const) {
      const who = await api.user(role);
      expect((await api.call(who, { method: "GET", url: "/api/v1/projects" })).statusCode).toBe(200);
      expect(errorOf(await api.call(who, { method: "POST", url: "/api/v1/projects", payload: { id: "x", title: "x" } })).status).toBe(403);
      expect(errorOf(await api.call(who, { method: "PATCH", url: "/api/v1/projects/roles", payload: { title: "x" } })).status).toBe(403);
      expect(errorOf(await api.call(who, { method: "DELETE", url: "/api/v1/projects/roles" })).status).toBe(403);
    }
    expect(errorOf(await api.app.inject({ method: "GET", url: "/api/v1/projects" })).status).toBe(401);
    expect(errorOf(await api.app.inject({ method: "GET", url: "/api/v1/projects/roles" })).status).toBe(401);
  });
});

describe("instances", () => {
  it("create, list, get, delete; the password never comes back", async () => {
    const url = "postgres://runway:s3cr3t@db.internal:5432/postgres?sslmode=require&password=other";
    const created = await api.call(api.admin, {
      method: "POST",
      url: "/api/v1/instances",
      payload: { id: "pg-main", title: "Main", connectionUrl: url },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toEqual({
      id: "pg-main",
      title: "Main",
      engine: "POSTGRES",
      connectionUrl: "postgres://runway:****@db.internal:5432/postgres?sslmode=require&password=****",
    });
    const list = await api.call(api.viewer, { method: "GET", url: "/api/v1/instances" });
    const get = await api.call(api.viewer, { method: "GET", url: "/api/v1/instances/pg-main" });
    for (const res of [created, list, get]) {
      expect(res.body).not.toContain("s3cr3t");
      expect(res.body).not.toContain("other");
    }
    const audit = await api.db.selectFrom("audit_log").select("detail").where("action", "=", "instance.create").executeTakeFirstOrThrow();
    expect(JSON.stringify(audit.detail)).not.toContain("s3cr3t");
    // The stored URL is sealed (executors open it with the key); the password is not in the row.
    const stored = (await api.db.selectFrom("instance").select("connection_url").where("id", "=", "pg-main").executeTakeFirstOrThrow())
      .connection_url;
    expect(stored).not.toContain("s3cr3t");
    expect(testSecrets.open(stored)).toBe(url);
    expect((await api.call(api.admin, { method: "DELETE", url: "/api/v1/instances/pg-main" })).statusCode).toBe(204);
    expect(errorOf(await api.call(api.viewer, { method: "GET", url: "/api/v1/instances/pg-main" })).status).toBe(404);
  });

  it("errors and roles", async () => {
    const ok = { id: "pg-x", title: "X", connectionUrl: "postgres://u@h/db" };
    expect((await api.call(api.admin, { method: "POST", url: "/api/v1/instances", payload: ok })).statusCode).toBe(201);
    expect(errorOf(await api.call(api.admin, { method: "POST", url: "/api/v1/instances", payload: ok })).status).toBe(409);
    for (const payload of [
      { ...ok, id: "pg-y", connectionUrl: "mysql://u@h/db" },
      { ...ok, id: "pg-y", connectionUrl: "postgres://" + "a".repeat(3000) },
      { ...ok, id: "pg-y", engine: "MYSQL" },
      { ...ok, id: "pg-y", connectionUrl: "postgres://[bad" },
      { id: "pg-y", title: "t" },
    ]) {
      expect(errorOf(await api.call(api.admin, { method: "POST", url: "/api/v1/instances", payload })).status).toBe(400);
    }
    expect(errorOf(await api.call(api.admin, { method: "DELETE", url: "/api/v1/instances/missing" })).status).toBe(404);
    for (const role of ["viewer", "releaser"] as const) {
      const who = await api.user(role);
      expect((await api.call(who, { method: "GET", url: "/api/v1/instances" })).statusCode).toBe(200);
      expect(errorOf(await api.call(who, { method: "POST", url: "/api/v1/instances", payload: { ...ok, id: "pg-z" } })).status).toBe(403);
      expect(errorOf(await api.call(who, { method: "DELETE", url: "/api/v1/instances/pg-x" })).status).toBe(403);
    }
    expect(errorOf(await api.app.inject({ method: "GET", url: "/api/v1/instances" })).status).toBe(401);
  });
});
