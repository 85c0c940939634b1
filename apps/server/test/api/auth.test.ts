import type { FastifyInstance } from "fastify";
import { describe, expect, it } from "vitest";
import { useApiApp } from "../helpers/api-app.js";
import { ADMIN_PASSWORD, USER_PASSWORD, buildTestApp, call, errorOf, login, type Who } from "../helpers/api.js";
import { createTestDatabase } from "../helpers/db.js";

// Tests that sign out, disable or re-password someone sign in their own users, not the fixture's.
const api = useApiApp();

describe("admin bootstrap", () => {
  it("creates admin once with a generated password printed once; a second start prints nothing", async () => {
    const fresh = await createTestDatabase();
    try {
      const lines: string[] = [];
      const a = await buildTestApp(fresh, { env: { RUNWAY_ADMIN_PASSWORD: "" }, print: (l) => lines.push(l) });
      const password = /password: (\S+)/.exec(lines.join("\n"))?.[1];
      expect(password).toBeTruthy();
      expect((await login(a, "admin", password!)).username).toBe("admin");
      await a.close();
      const b = await buildTestApp(fresh, { env: { RUNWAY_ADMIN_PASSWORD: "" }, print: (l) => lines.push(l) });
      await b.close();
      expect(lines.filter((l) => l.includes("password:"))).toHaveLength(1);
      const row = await fresh.db.selectFrom("app_user").select(["role", "password_hash"]).executeTakeFirstOrThrow();
      expect(row.role).toBe("admin");
      expect(row.password_hash).toMatch(/^\$argon2id\$/);
    } finally {
      await fresh.close();
    }
  });

  it("uses RUNWAY_ADMIN_PASSWORD when set", async () => {
    expect((await login(api.app, "admin", ADMIN_PASSWORD)).username).toBe("admin");
  });
});

describe("login, logout, me", () => {
  it("sets an httpOnly SameSite cookie and returns the CSRF token; me echoes it", async () => {
    const res = await api.app.inject({
      method: "POST",
      url: "/api/v1/auth/login",
      payload: { username: "admin", password: ADMIN_PASSWORD },
    });
    expect(res.statusCode).toBe(200);
    const cookie = res.cookies.find((c) => c.name === "runway_session")!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax", path: "/" });
    const body = res.json();
    expect(body).toMatchObject({ username: "admin", role: "admin", via: "session" });
    const me = await api.app.inject({ method: "GET", url: "/api/v1/auth/me", cookies: { runway_session: cookie.value } });
    expect(me.json()).toEqual({ username: "admin", role: "admin", via: "session", csrfToken: body.csrfToken });
    // The table stores a hash, never the cookie value.
    const stored = await api.db.selectFrom("user_session").select("id").execute();
    expect(stored.map((s) => s.id)).not.toContain(cookie.value);
  });

  it("refuses a wrong password, an unknown user and a disabled user alike (401), and audits the attempts", async () => {
    const viewer = await api.user("viewer");
    await api.db.updateTable("app_user").set({ disabled: true }).where("username", "=", viewer.username).execute();
    for (const payload of [
      { username: "admin", password: "wrong-password" },
      { username: "nobody", password: "whatever-pass" },
      { username: viewer.username, password: USER_PASSWORD },
    ]) {
      const res = await api.app.inject({ method: "POST", url: "/api/v1/auth/login", payload });
      expect(errorOf(res)).toMatchObject({
        status: 401,
        code: "UNAUTHENTICATED",
        message: "wrong username or password, or the user is disabled",
      });
    }
    const audit = await api.db
      .selectFrom("audit_log")
      .select(["actor", "outcome"])
      .where("action", "=", "auth.login")
      .where("outcome", "<>", "SUCCESS")
      .execute();
    expect(audit).toEqual(
      expect.arrayContaining([
        { actor: "nobody", outcome: "UNAUTHENTICATED" },
        { actor: "admin", outcome: "UNAUTHENTICATED" },
      ]),
    );
  });

  it("rate limits repeated failed logins for one username (429 RATE_LIMITED with retry-after)", async () => {
    const app = await api.extraApp({ env: { RUNWAY_LOGIN_RATE_LIMIT: "3" } });
    const statuses: number[] = [];
    // Failures are kept in the database (shared by replicas), keyed by username and address: an address of
    // its own keeps this test's lock away from the other tests' sign-ins.
    const remoteAddress = "198.51.100.77";
    for (let i = 0; i < 5; i++) {
      const res = await app.inject({
        method: "POST",
        url: "/api/v1/auth/login",
        payload: { username: "admin", password: `guess-${i}` },
        remoteAddress,
      });
      statuses.push(res.statusCode);
      if (res.statusCode === 429) {
        expect(errorOf(res).code).toBe("RATE_LIMITED");
        expect(res.headers["retry-after"]).toBeDefined();
      }
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    // Another username is limited separately (per username), up to five times the limit per address.
    const other = await app.inject({
      method: "POST",
      url: "/api/v1/auth/login",
      payload: { username: "someone", password: "guess-x" },
      remoteAddress,
    });
    expect(other.statusCode).toBe(401);
  });

  it("logout ends the session (the cookie no longer works) and needs the CSRF header", async () => {
    const admin = await login(api.app, "admin", ADMIN_PASSWORD);
    const noCsrf = await api.app.inject({ method: "POST", url: "/api/v1/auth/logout", headers: { cookie: admin.headers.cookie! } });
    expect(errorOf(noCsrf)).toMatchObject({ status: 403, code: "PERMISSION_DENIED" });
    const out = await api.call(admin, { method: "POST", url: "/api/v1/auth/logout" });
    expect(out.statusCode).toBe(204);
    const me = await api.call(admin, { method: "GET", url: "/api/v1/auth/me" });
    expect(errorOf(me)).toMatchObject({ status: 401, code: "UNAUTHENTICATED" });
  });

  it("me without credentials is 401; with a malformed Authorization header 401", async () => {
    expect(errorOf(await api.app.inject({ method: "GET", url: "/api/v1/auth/me" })).status).toBe(401);
    const bad = await api.app.inject({ method: "GET", url: "/api/v1/auth/me", headers: { authorization: "Basic abc" } });
    expect(errorOf(bad)).toMatchObject({ status: 401, code: "UNAUTHENTICATED" });
  });

  it("an expired session is refused", async () => {
    let now = new Date();
    const app = await api.extraApp({ clock: { now: () => now } });
    const admin = await login(app, "admin", ADMIN_PASSWORD);
    expect((await call(app, admin, { method: "GET", url: "/api/v1/auth/me" })).statusCode).toBe(200);
    now = new Date(now.getTime() + 13 * 3600 * 1000);
    expect(errorOf(await call(app, admin, { method: "GET", url: "/api/v1/auth/me" })).message).toMatch(/expired/);
  });
});

describe("CSRF", () => {
  it("cookie-authenticated mutations need the session's token; bearer calls do not", async () => {
    const admin = await login(api.app, "admin", ADMIN_PASSWORD);
    const payload = { id: "csrf-p", title: "P" };
    const missing = await api.app.inject({ method: "POST", url: "/api/v1/projects", headers: { cookie: admin.headers.cookie! }, payload });
    expect(errorOf(missing)).toMatchObject({ status: 403, code: "PERMISSION_DENIED" });
    expect(errorOf(missing).message).toMatch(/x-csrf-token/);
    const wrong = await api.app.inject({
      method: "POST",
      url: "/api/v1/projects",
      headers: { cookie: admin.headers.cookie!, "x-csrf-token": "nope" },
      payload,
    });
    expect(wrong.statusCode).toBe(403);
    expect(await api.db.selectFrom("project").select("id").where("id", "=", "csrf-p").executeTakeFirst()).toBeUndefined();
    const token = await api.call(admin, { method: "POST", url: "/api/v1/tokens", payload: { name: "ci" } });
    const bearer = await api.app.inject({
      method: "POST",
      url: "/api/v1/projects",
      headers: { authorization: `Bearer ${token.json().token}` },
      payload,
    });
    expect(bearer.statusCode).toBe(201);
  });
});

describe("users (admin)", () => {
  let admin: Who;
  it("lists, creates and updates users; viewers and releasers are refused", async () => {
    admin = await login(api.app, "admin", ADMIN_PASSWORD);
    const created = await api.call(admin, {
      method: "POST",
      url: "/api/v1/users",
      payload: { username: "carol", password: "carol-password", role: "viewer" },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ username: "carol", role: "viewer", disabled: false });
    expect(created.body).not.toContain("password");
    const dup = await api.call(admin, {
      method: "POST",
      url: "/api/v1/users",
      payload: { username: "carol", password: "carol-password", role: "viewer" },
    });
    expect(errorOf(dup)).toMatchObject({ status: 409, code: "CONFLICT" });
    const list = await api.call(admin, { method: "GET", url: "/api/v1/users" });
    expect(list.json().users.map((u: { username: string }) => u.username)).toEqual(expect.arrayContaining(["admin", "carol"]));
    const promoted = await api.call(admin, { method: "PATCH", url: "/api/v1/users/carol", payload: { role: "releaser" } });
    expect(promoted.json().role).toBe("releaser");
    const missing = await api.call(admin, { method: "PATCH", url: "/api/v1/users/nobody", payload: { role: "viewer" } });
    expect(errorOf(missing)).toMatchObject({ status: 404, code: "NOT_FOUND" });
    const empty = await api.call(admin, { method: "PATCH", url: "/api/v1/users/carol", payload: {} });
    expect(errorOf(empty)).toMatchObject({ status: 400, code: "INVALID_ARGUMENT" });
    const weak = await api.call(admin, {
      method: "POST",
      url: "/api/v1/users",
      payload: { username: "dave", password: "short", role: "viewer" },
    });
    expect(errorOf(weak).message).toMatch(/body\/password/);
    for (const role of ["viewer", "releaser"] as const) {
      const who = await api.user(role);
      expect(errorOf(await api.call(who, { method: "GET", url: "/api/v1/users" })).status).toBe(403);
      expect(
        errorOf(
          await api.call(who, {
            method: "POST",
            url: "/api/v1/users",
            payload: { username: "eve", password: "eve-password", role: "admin" },
          }),
        ).code,
      ).toBe("PERMISSION_DENIED");
      expect(errorOf(await api.call(who, { method: "PATCH", url: "/api/v1/users/carol", payload: { role: "admin" } })).status).toBe(403);
    }
  });

  it("disabling a user ends their sessions and stops their tokens; a new password ends sessions", async () => {
    admin = await login(api.app, "admin", ADMIN_PASSWORD);
    const viewer = await api.user("viewer");
    const tok = (await api.call(viewer, { method: "POST", url: "/api/v1/tokens", payload: { name: "x" } })).json().token as string;
    const disable = await api.call(admin, { method: "PATCH", url: `/api/v1/users/${viewer.username}`, payload: { disabled: true } });
    expect(disable.json().disabled).toBe(true);
    expect((await api.call(viewer, { method: "GET", url: "/api/v1/auth/me" })).statusCode).toBe(401);
    expect((await api.app.inject({ method: "GET", url: "/api/v1/auth/me", headers: { authorization: `Bearer ${tok}` } })).statusCode).toBe(
      401,
    );
    await api.call(admin, { method: "PATCH", url: `/api/v1/users/${viewer.username}`, payload: { disabled: false } });
    const again = await login(api.app, viewer.username, USER_PASSWORD);
    await api.call(admin, { method: "PATCH", url: `/api/v1/users/${viewer.username}`, payload: { password: "a-new-password" } });
    expect((await api.call(again, { method: "GET", url: "/api/v1/auth/me" })).statusCode).toBe(401);
    expect((await login(api.app, viewer.username, "a-new-password")).username).toBe(viewer.username);
  });

  it("refuses to demote or disable the last enabled admin (409 FAILED_PRECONDITION)", async () => {
    const solo = await createTestDatabase();
    try {
      const app: FastifyInstance = await buildTestApp(solo);
      admin = await login(app, "admin", ADMIN_PASSWORD);
      for (const payload of [{ role: "viewer" }, { disabled: true }]) {
        const res = await call(app, admin, { method: "PATCH", url: "/api/v1/users/admin", payload });
        expect(errorOf(res)).toMatchObject({ status: 409, code: "FAILED_PRECONDITION" });
      }
      await call(app, admin, {
        method: "POST",
        url: "/api/v1/users",
        payload: { username: "admin2", password: "admin2-password", role: "admin" },
      });
      expect((await call(app, admin, { method: "PATCH", url: "/api/v1/users/admin", payload: { role: "viewer" } })).statusCode).toBe(200);
      await app.close();
    } finally {
      await solo.close();
    }
  });
});

describe("API tokens", () => {
  it("are shown once, stored hashed, listed per user (admins see all), revocable", async () => {
    const admin = await login(api.app, "admin", ADMIN_PASSWORD);
    const viewer = await api.user("viewer");
    const created = await api.call(viewer, { method: "POST", url: "/api/v1/tokens", payload: { name: "read-only bot" } });
    expect(created.statusCode).toBe(201);
    const { token, id } = created.json() as { token: string; id: string };
    expect(token).toMatch(/^rwt_[A-Za-z0-9_-]{43}$/);
    const stored = await api.db.selectFrom("api_token").select("token_hash").where("id", "=", id).executeTakeFirstOrThrow();
    expect(stored.token_hash).not.toContain(token);
    const bearer = { username: viewer.username, headers: { authorization: `Bearer ${token}` } };
    expect((await api.call(bearer, { method: "GET", url: "/api/v1/auth/me" })).json()).toEqual({
      username: viewer.username,
      role: "viewer",
      via: "token",
    });
    // A token acts with its user's role.
    expect(errorOf(await api.call(bearer, { method: "POST", url: "/api/v1/projects", payload: { id: "tp", title: "x" } })).status).toBe(
      403,
    );

    const mine = (await api.call(viewer, { method: "GET", url: "/api/v1/tokens" })).json().tokens;
    expect(mine.every((x: { username: string }) => x.username === viewer.username)).toBe(true);
    expect(JSON.stringify(mine)).not.toContain(token);
    expect(mine[0].lastUsedAt).not.toBeNull();
    const all = (await api.call(admin, { method: "GET", url: "/api/v1/tokens" })).json().tokens;
    expect(all.some((x: { id: string }) => x.id === id)).toBe(true);

    const releaser = await api.user("releaser");
    expect(errorOf(await api.call(releaser, { method: "DELETE", url: `/api/v1/tokens/${id}` })).status).toBe(404);
    expect((await api.call(viewer, { method: "DELETE", url: `/api/v1/tokens/${id}` })).statusCode).toBe(204);
    expect((await api.call(viewer, { method: "DELETE", url: `/api/v1/tokens/${id}` })).statusCode).toBe(204);
    expect(errorOf(await api.call(bearer, { method: "GET", url: "/api/v1/auth/me" })).status).toBe(401);
    expect(errorOf(await api.call(admin, { method: "DELETE", url: "/api/v1/tokens/999999" })).code).toBe("NOT_FOUND");
    const other = (await api.call(releaser, { method: "POST", url: "/api/v1/tokens", payload: { name: "r" } })).json();
    expect((await api.call(admin, { method: "DELETE", url: `/api/v1/tokens/${other.id}` })).statusCode).toBe(204);
    expect(errorOf(await api.app.inject({ method: "GET", url: "/api/v1/tokens" })).status).toBe(401);
    expect(errorOf(await api.call(admin, { method: "POST", url: "/api/v1/tokens", payload: { name: "" } })).status).toBe(400);
  });
});

describe("audit log", () => {
  it("records every mutation with actor, action, target and outcome; admins only; paged newest first", async () => {
    const admin = await login(api.app, "admin", ADMIN_PASSWORD);
    await api.call(admin, { method: "POST", url: "/api/v1/projects", payload: { id: "audited", title: "A" } });
    await api.call(admin, { method: "POST", url: "/api/v1/projects", payload: { id: "audited", title: "A" } });
    await api.call(admin, { method: "PATCH", url: "/api/v1/projects/audited", payload: { title: "B" } });
    const res = await api.call(admin, { method: "GET", url: "/api/v1/audit-log?action=project.create&pageSize=1" });
    const page1 = res.json();
    expect(page1.entries).toEqual([
      expect.objectContaining({ actor: "admin", action: "project.create", target: "project/audited", outcome: "CONFLICT" }),
    ]);
    const page2 = (
      await api.call(admin, { method: "GET", url: `/api/v1/audit-log?action=project.create&pageSize=1&pageToken=${page1.nextPageToken}` })
    ).json();
    expect(page2.entries[0]).toMatchObject({ outcome: "SUCCESS", target: "project/audited" });
    const update = (await api.call(admin, { method: "GET", url: "/api/v1/audit-log?action=project.update&actor=admin" })).json().entries[0];
    expect(update).toMatchObject({ target: "project/audited", outcome: "SUCCESS", detail: { title: "B", via: "session" } });
    expect(errorOf(await api.call(admin, { method: "GET", url: "/api/v1/audit-log?pageToken=garbage" })).code).toBe("INVALID_ARGUMENT");
    const releaser = await api.user("releaser");
    expect(errorOf(await api.call(releaser, { method: "GET", url: "/api/v1/audit-log" })).status).toBe(403);
    // A denied attempt by a signed-in user is a fact worth keeping.
    await api.call(releaser, { method: "POST", url: "/api/v1/projects", payload: { id: "nope", title: "x" } });
    const denied = (
      await api.call(admin, { method: "GET", url: `/api/v1/audit-log?actor=${releaser.username}&action=project.create` })
    ).json().entries;
    expect(denied[0]).toMatchObject({ outcome: "PERMISSION_DENIED" });
  });
});
