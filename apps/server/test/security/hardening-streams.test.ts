import { afterEach, describe, expect, it } from "vitest";
import type { FastifyBaseLogger } from "fastify";
import { waitFor } from "../helpers/db.js";
import { openStream } from "../helpers/sse.js";
import { StreamRegistry } from "../../src/plugins/app/streams.js";
import { hasRole, type AuthUser } from "../../src/plugins/app/auth.js";
import { useApiApp } from "../helpers/api-app.js";
import { ADMIN_PASSWORD, bearerFor, call, login, userWithRole, type Who } from "../helpers/api.js";

/**
 * Issue 11, hardening: SSE streams are capped per user and per replica (3,000 streams from one viewer
 * token used to be accepted), and a stream ends when its user signs out, is disabled, loses the right to
 * read it, or its token is revoked or expires.
 */
const api = useApiApp();
const streams: Awaited<ReturnType<typeof openStream>>[] = [];
// Runs before the fixture's afterEach (hooks unwind in reverse), which closes the replicas.
afterEach(async () => {
  await Promise.all(streams.splice(0).map((s) => s.close()));
});

async function replica(env: Record<string, string> = {}, clock?: { now: () => Date }) {
  const app = await api.extraApp({ env, ...(clock ? { clock } : {}) });
  return { app, base: await app.listen({ port: 0, host: "127.0.0.1" }) };
}

async function stream(base: string, who: Who) {
  const s = await openStream(
    base,
    "/api/v1/events",
    who.headers.cookie ? { cookie: who.headers.cookie } : { authorization: who.headers.authorization! },
  );
  streams.push(s);
  if (s.status === 200) await waitFor(async () => s.events.find((e) => e.event === "ready"), { what: "ready event" });
  return s;
}

/** A stream that the server ends: it says why (`event: end`) and closes. */
async function expectEnded(s: Awaited<ReturnType<typeof openStream>>, reason: RegExp) {
  await Promise.race([s.ended, new Promise((_, reject) => setTimeout(() => reject(new Error("stream still open after 20 s")), 20_000))]);
  expect(s.events.find((e) => e.event === "end")?.data).toEqual({ reason: expect.stringMatching(reason) });
}

describe("caps", () => {
  it("per user: past RUNWAY_SSE_MAX_PER_USER a stream is refused with 429; closing one makes room", async () => {
    const { app, base } = await replica({ RUNWAY_SSE_MAX_PER_USER: "3" });
    const viewer = await bearerFor(app, await userWithRole(app, api.t, "viewer"));
    const open = [await stream(base, viewer), await stream(base, viewer), await stream(base, viewer)];
    const refused = await stream(base, viewer);
    expect(refused.status).toBe(429);
    expect(refused.contentType).toMatch(/application\/json/);
    // Someone else is not affected.
    const other = await stream(base, await userWithRole(app, api.t, "viewer"));
    expect(other.status).toBe(200);
    await open[0]!.close();
    await waitFor(async () => app.streams.size === 3, { what: "the closed stream released" });
    expect((await stream(base, viewer)).status).toBe(200);
  });

  it("per replica: past RUNWAY_SSE_MAX_STREAMS every further stream is refused with 429", async () => {
    const { app, base } = await replica({ RUNWAY_SSE_MAX_STREAMS: "2" });
    expect((await stream(base, await userWithRole(app, api.t, "viewer"))).status).toBe(200);
    expect((await stream(base, await userWithRole(app, api.t, "viewer"))).status).toBe(200);
    expect((await stream(base, await userWithRole(app, api.t, "admin"))).status).toBe(429);
  });
});

describe("a stream ends when its credential no longer holds", () => {
  it("sign-out ends the session's streams", async () => {
    const { app, base } = await replica();
    const viewer = await userWithRole(app, api.t, "viewer");
    const s = await stream(base, viewer);
    expect((await call(app, viewer, { method: "POST", url: "/api/v1/auth/logout" })).statusCode).toBe(204);
    await expectEnded(s, /session or API token has ended/);
  });

  it("disabling the user ends their streams, on another replica too", async () => {
    const a = await replica();
    const b = await replica();
    const admin = await login(a.app, "admin", ADMIN_PASSWORD);
    const viewer = await userWithRole(b.app, api.t, "viewer");
    const token = await bearerFor(b.app, viewer);
    const [bySession, byToken] = [await stream(b.base, viewer), await stream(b.base, token)];
    await call(a.app, admin, { method: "PATCH", url: `/api/v1/users/${viewer.username}`, payload: { disabled: true } });
    await expectEnded(bySession, /ended/);
    await expectEnded(byToken, /ended/);
  });

  it("revoking the token ends its streams and only those", async () => {
    const { app, base } = await replica();
    const viewer = await userWithRole(app, api.t, "viewer");
    const created = (await call(app, viewer, { method: "POST", url: "/api/v1/tokens", payload: { name: "one" } })).json();
    const token = { username: viewer.username, headers: { authorization: `Bearer ${created.token}` } };
    const [byToken, bySession] = [await stream(base, token), await stream(base, viewer)];
    await call(app, viewer, { method: "DELETE", url: `/api/v1/tokens/${created.id}` });
    await expectEnded(byToken, /ended/);
    expect(app.streams.size).toBe(1);
    expect(bySession.events.some((e) => e.event === "end")).toBe(false);
  });

  it("sign out everywhere ends every stream of the user", async () => {
    const { app, base } = await replica();
    const viewer = await userWithRole(app, api.t, "viewer");
    const token = await bearerFor(app, viewer);
    const all = [await stream(base, viewer), await stream(base, token)];
    await call(app, viewer, { method: "POST", url: "/api/v1/auth/sign-out-everywhere" });
    for (const s of all) await expectEnded(s, /ended/);
  });

  it("an expiring token's stream ends at the next interval check (nobody announces an expiry)", async () => {
    let now = new Date();
    const { app, base } = await replica({ RUNWAY_SSE_RECHECK_MS: "200" }, { now: () => now });
    const viewer = await userWithRole(app, api.t, "viewer");
    const created = (
      await call(app, viewer, { method: "POST", url: "/api/v1/tokens", payload: { name: "short", expiresInDays: 1 } })
    ).json();
    const s = await stream(base, { username: viewer.username, headers: { authorization: `Bearer ${created.token}` } });
    now = new Date(now.getTime() + 2 * 24 * 3600 * 1000);
    await expectEnded(s, /ended/);
  });
});

describe("StreamRegistry", () => {
  const user = (role: AuthUser["role"]): AuthUser => ({ username: "u", role, via: "token", credential: { kind: "token", hash: "h" } });

  it("ends a stream whose user loses the role it needs, keeps it while the check cannot be made", async () => {
    let current: AuthUser | undefined | Error = user("releaser");
    const registry = new StreamRegistry({
      maxPerUser: 5,
      maxTotal: 5,
      check: async () => {
        if (current instanceof Error) throw current;
        return current;
      },
      log: { warn: () => undefined } as unknown as FastifyBaseLogger,
    });
    const closed: string[] = [];
    registry.admit({ user: user("releaser"), allowed: (u) => hasRole(u, "releaser"), close: (r) => closed.push(r) });
    await registry.recheck("u");
    expect(closed).toEqual([]);
    current = new Error("control database down");
    await registry.sweep();
    expect(closed).toEqual([]);
    current = user("viewer");
    await registry.recheck("someone-else");
    expect(closed).toEqual([]);
    await registry.recheck("u");
    expect(closed).toEqual(["you may no longer read this stream"]);
  });
});
