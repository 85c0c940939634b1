import { describe, expect, it } from "vitest";
import { useApiApp } from "../helpers/api-app.js";
import { errorOf, login, type Who } from "../helpers/api.js";

/**
 * Issue 11, hardening: API tokens can expire, cannot mint tokens, and die with a password change or a
 * "sign out everywhere".
 */
let now = new Date("2030-01-01T00:00:00Z");
const DAY = 24 * 3600 * 1000;
const api = useApiApp({ clock: { now: () => now } });

async function mint(
  who: Who,
  payload: Record<string, unknown>,
): Promise<{ id: string; token: string; expiresAt: string | null; bearer: Who }> {
  const res = await api.call(who, { method: "POST", url: "/api/v1/tokens", payload });
  expect(res.statusCode, res.body).toBe(201);
  const body = res.json();
  return { ...body, bearer: { username: who.username, headers: { authorization: `Bearer ${body.token}` } } };
}
const me = (who: Who) => api.call(who, { method: "GET", url: "/api/v1/auth/me" });

describe("expiry", () => {
  it("expiresInDays and expiresAt set the expiry; an expired token is refused; none means never", async () => {
    const viewer = await api.user("viewer");
    const days = await mint(viewer, { name: "ninety", expiresInDays: 90 });
    expect(days.expiresAt).toBe(new Date(now.getTime() + 90 * DAY).toISOString());
    const at = await mint(viewer, { name: "fixed", expiresAt: "2030-01-02T00:00:00Z" });
    expect(at.expiresAt).toBe("2030-01-02T00:00:00.000Z");
    const forever = await mint(viewer, { name: "forever" });
    expect(forever.expiresAt).toBeNull();
    const listed = (await api.call(viewer, { method: "GET", url: "/api/v1/tokens" })).json().tokens;
    expect(listed.find((x: { id: string }) => x.id === days.id).expiresAt).toBe(days.expiresAt);

    expect((await me(at.bearer)).statusCode).toBe(200);
    now = new Date("2030-01-02T00:00:00Z"); // the instant of expiry: refused
    expect(errorOf(await me(at.bearer))).toMatchObject({ status: 401, code: "UNAUTHENTICATED" });
    expect(errorOf(await me(at.bearer)).message).toMatch(/expired/);
    expect((await me(days.bearer)).statusCode).toBe(200);
    now = new Date(now.getTime() + 100 * DAY);
    expect((await me(days.bearer)).statusCode).toBe(401);
    expect((await me(forever.bearer)).statusCode).toBe(200);
    now = new Date("2030-01-01T00:00:00Z");
  });

  it("refuses both fields, a past expiresAt, more than ten years, and out-of-range days", async () => {
    const viewer = await api.user("viewer");
    for (const payload of [
      { name: "x", expiresInDays: 30, expiresAt: "2030-06-01T00:00:00Z" },
      { name: "x", expiresAt: "2029-12-31T23:59:59Z" },
      { name: "x", expiresAt: "2041-01-01T00:00:00Z" },
      { name: "x", expiresInDays: 0 },
      { name: "x", expiresInDays: 3651 },
      { name: "x", expiresInDays: 1.5 },
      { name: "x", expiresAt: "2030-02-30T00:00:00Z" },
    ]) {
      expect(errorOf(await api.call(viewer, { method: "POST", url: "/api/v1/tokens", payload })), JSON.stringify(payload)).toMatchObject({
        status: 400,
        code: "INVALID_ARGUMENT",
      });
    }
  });
});

describe("a token cannot mint tokens", () => {
  it("POST /tokens with a bearer token is 403, and nothing is created", async () => {
    const { bearer } = await mint(api.admin, { name: "ci", expiresInDays: 30 });
    const before = (await api.call(api.admin, { method: "GET", url: "/api/v1/tokens" })).json().tokens.length;
    const res = await api.call(bearer, { method: "POST", url: "/api/v1/tokens", payload: { name: "child" } });
    expect(errorOf(res)).toMatchObject({ status: 403, code: "PERMISSION_DENIED" });
    expect(errorOf(res).message).toMatch(/cannot create API tokens/);
    expect((await api.call(api.admin, { method: "GET", url: "/api/v1/tokens" })).json().tokens.length).toBe(before);
  });
});

describe("revocation", () => {
  it("a new password revokes the user's tokens (not just their sessions)", async () => {
    const releaser = await api.user("releaser");
    const { bearer, id } = await mint(releaser, { name: "deploy" });
    expect((await me(bearer)).statusCode).toBe(200);
    const res = await api.call(api.admin, {
      method: "PATCH",
      url: `/api/v1/users/${releaser.username}`,
      payload: { password: "a-brand-new-password" },
    });
    expect(res.statusCode).toBe(200);
    expect(errorOf(await me(bearer)).status).toBe(401);
    expect(errorOf(await me(releaser)).status).toBe(401);
    const row = await api.db.selectFrom("api_token").select("revoked_at").where("id", "=", id).executeTakeFirstOrThrow();
    expect(row.revoked_at).not.toBeNull();
    // A role change alone leaves tokens alone.
    const again = await login(api.app, releaser.username, "a-brand-new-password");
    const other = await mint(again, { name: "after" });
    await api.call(api.admin, { method: "PATCH", url: `/api/v1/users/${releaser.username}`, payload: { role: "viewer" } });
    expect((await me(other.bearer)).statusCode).toBe(200);
  });

  it("sign out everywhere ends every session and revokes every token of the caller, and nobody else's", async () => {
    const viewer = await api.user("viewer");
    const second = await login(api.app, viewer.username, "user-password-for-tests");
    const a = await mint(viewer, { name: "a" });
    const b = await mint(viewer, { name: "b", expiresInDays: 30 });
    const bystander = await mint(api.admin, { name: "admin's" });
    const res = await api.call(second, { method: "POST", url: "/api/v1/auth/sign-out-everywhere" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ endedSessions: 2, revokedTokens: 2 });
    expect(res.headers["set-cookie"]).toMatch(/runway_session=;/);
    for (const who of [viewer, second, a.bearer, b.bearer]) expect((await me(who)).statusCode).toBe(401);
    expect((await me(bystander.bearer)).statusCode).toBe(200);
    expect((await me(api.admin)).statusCode).toBe(200);
    const entry = (
      await api.call(api.admin, { method: "GET", url: `/api/v1/audit-log?action=auth.sign-out-everywhere&actor=${viewer.username}` })
    ).json().entries[0];
    expect(entry).toMatchObject({ outcome: "SUCCESS", target: `user/${viewer.username}`, detail: { sessions: 2, tokens: 2 } });
  });

  it("a token can sign its own user out everywhere (a leaked token's owner may hold only the token)", async () => {
    const viewer = await api.user("viewer");
    const { bearer } = await mint(viewer, { name: "only" });
    expect((await api.call(bearer, { method: "POST", url: "/api/v1/auth/sign-out-everywhere" })).json()).toEqual({
      endedSessions: 1,
      revokedTokens: 1,
    });
    expect((await me(bearer)).statusCode).toBe(401);
  });
});
