import { afterEach, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { useApiApp } from "../helpers/api-app.js";
import { ADMIN_PASSWORD, errorOf } from "../helpers/api.js";

/**
 * Issue 11, hardening: sign-in limits count failures only, per username and client address, with
 * backoff; RUNWAY_TRUST_PROXY makes the address and the cookie's Secure flag follow X-Forwarded-*.
 */
const api = useApiApp();
/** This test's app (api.extraApp: its own limits and clock; closed after the test). */
let app: FastifyInstance;
afterEach(async () => {
  await api.db.deleteFrom("login_failure").execute();
});

let now = new Date("2030-01-01T00:00:00Z");
const clock = { now: () => now };
const advance = (ms: number) => (now = new Date(now.getTime() + ms));

function attempt(username: string, password: string, opts: { from?: string; headers?: Record<string, string> } = {}) {
  return app.inject({
    method: "POST",
    url: "/api/v1/auth/login",
    payload: { username, password },
    ...(opts.from ? { remoteAddress: opts.from } : {}),
    ...(opts.headers ? { headers: opts.headers } : {}),
  });
}

describe("sign-in limits", () => {
  it("ten wrong passwords from one address do not lock admin out for everyone else (they used to)", async () => {
    app = await api.extraApp({ env: { RUNWAY_LOGIN_RATE_LIMIT: "10" }, clock });
    for (let i = 0; i < 10; i++) expect((await attempt("admin", `guess-${i}`, { from: "198.51.100.1" })).statusCode).toBe(401);
    const locked = await attempt("admin", ADMIN_PASSWORD, { from: "198.51.100.1" });
    expect(errorOf(locked)).toMatchObject({ status: 429, code: "RATE_LIMITED" });
    expect(locked.headers["retry-after"]).toBe("30");
    expect((await attempt("admin", ADMIN_PASSWORD, { from: "192.0.2.50" })).statusCode).toBe(200);
    expect((await attempt("admin", ADMIN_PASSWORD)).statusCode).toBe(200);
  });

  it("successes do not count, and a success clears the failures of its username and address", async () => {
    app = await api.extraApp({ env: { RUNWAY_LOGIN_RATE_LIMIT: "3" }, clock });
    for (let i = 0; i < 12; i++) expect((await attempt("admin", ADMIN_PASSWORD)).statusCode).toBe(200);
    for (let round = 0; round < 4; round++) {
      expect((await attempt("admin", "wrong-one")).statusCode).toBe(401);
      expect((await attempt("admin", "wrong-two")).statusCode).toBe(401);
      expect((await attempt("admin", ADMIN_PASSWORD)).statusCode).toBe(200);
    }
  });

  it("waits grow with further failures (30 s, 60 s, …) and are refused without checking the password", async () => {
    app = await api.extraApp({ env: { RUNWAY_LOGIN_RATE_LIMIT: "2" }, clock });
    expect((await attempt("admin", "wrong-1")).statusCode).toBe(401);
    expect((await attempt("admin", "wrong-2")).statusCode).toBe(401);
    expect((await attempt("admin", ADMIN_PASSWORD)).headers["retry-after"]).toBe("30");
    advance(31_000);
    expect((await attempt("admin", "wrong-3")).statusCode).toBe(401);
    expect((await attempt("admin", "wrong-4")).headers["retry-after"]).toBe("60");
    advance(61_000);
    expect((await attempt("admin", ADMIN_PASSWORD)).statusCode).toBe(200);
    expect((await attempt("admin", "wrong-5")).statusCode).toBe(401); // the success started the count afresh
    // Locked attempts are not audited (they would let anyone fill the table); failures are.
    const outcomes = (await api.db.selectFrom("audit_log").select("outcome").where("action", "=", "auth.login").execute()).map(
      (r) => r.outcome,
    );
    expect(outcomes).not.toContain("RATE_LIMITED");
  });

  it("one address spraying many usernames is held after five times the per-user allowance", async () => {
    app = await api.extraApp({ env: { RUNWAY_LOGIN_RATE_LIMIT: "1" }, clock });
    for (let i = 0; i < 5; i++) expect((await attempt(`user${i}`, "wrong-pass", { from: "198.51.100.2" })).statusCode).toBe(401);
    expect((await attempt("admin", ADMIN_PASSWORD, { from: "198.51.100.2" })).statusCode).toBe(429);
    expect((await attempt("admin", ADMIN_PASSWORD, { from: "198.51.100.3" })).statusCode).toBe(200);
  });
});

describe("RUNWAY_TRUST_PROXY", () => {
  const forwarded = { "x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https" };

  it("unset: X-Forwarded-* are ignored (address is the peer, cookie not Secure)", async () => {
    app = await api.extraApp({ clock });
    const res = await attempt("admin", ADMIN_PASSWORD, { headers: forwarded });
    expect(res.cookies.find((c) => c.name === "runway_session")!.secure).toBeFalsy();
    const entry = await api.db
      .selectFrom("audit_log")
      .select("client_addr")
      .where("action", "=", "auth.login")
      .orderBy("id", "desc")
      .executeTakeFirstOrThrow();
    expect(entry.client_addr).toBe("127.0.0.1");
  });

  it("set: the address and the Secure flag follow the proxy's headers, and limits key on the forwarded address", async () => {
    app = await api.extraApp({ env: { RUNWAY_TRUST_PROXY: "1", RUNWAY_LOGIN_RATE_LIMIT: "2" }, clock });
    const res = await attempt("admin", ADMIN_PASSWORD, { headers: forwarded });
    expect(res.cookies.find((c) => c.name === "runway_session")!.secure).toBe(true);
    const entry = await api.db
      .selectFrom("audit_log")
      .select("client_addr")
      .where("action", "=", "auth.login")
      .orderBy("id", "desc")
      .executeTakeFirstOrThrow();
    expect(entry.client_addr).toBe("203.0.113.9");
    const plain = await attempt("admin", ADMIN_PASSWORD, { headers: { "x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "http" } });
    expect(plain.cookies.find((c) => c.name === "runway_session")!.secure).toBeFalsy();
    // Two clients behind the same proxy: one's failures do not hold the other.
    for (let i = 0; i < 2; i++) await attempt("admin", "wrong-pass", { headers: { "x-forwarded-for": "198.51.100.20" } });
    expect((await attempt("admin", ADMIN_PASSWORD, { headers: { "x-forwarded-for": "198.51.100.20" } })).statusCode).toBe(429);
    expect((await attempt("admin", ADMIN_PASSWORD, { headers: { "x-forwarded-for": "198.51.100.21" } })).statusCode).toBe(200);
  });
});
