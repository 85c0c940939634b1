import net from "node:net";
import { beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../helpers/db.js";
import { openStream } from "../helpers/sse.js";
import { useApiApp } from "../helpers/api-app.js";

/**
 * Issue 11, hardening: request, header and keep-alive timeouts. 50 connections that trickle a body used
 * to stay open for 400 s (Fastify's default request timeout is none).
 */
const api = useApiApp({
  env: { RUNWAY_REQUEST_TIMEOUT_MS: "2000", RUNWAY_HEADERS_TIMEOUT_MS: "1000", RUNWAY_KEEP_ALIVE_TIMEOUT_MS: "1000" },
});
let port: number;
beforeAll(async () => {
  port = Number(new URL(await api.app.listen({ port: 0, host: "127.0.0.1" })).port);
});

/** Opens a raw connection, writes `first`, and resolves with what the server said once it closed the connection. */
function rawConnection(first: string): { closed: Promise<{ ms: number; answer: string }>; socket: net.Socket } {
  const started = Date.now();
  const socket = net.connect(port, "127.0.0.1");
  socket.setEncoding("utf8");
  let answer = "";
  socket.on("data", (d: string) => (answer += d));
  socket.write(first);
  const closed = new Promise<{ ms: number; answer: string }>((resolve) => {
    socket.on("close", () => resolve({ ms: Date.now() - started, answer }));
    socket.on("error", () => undefined);
  });
  return { closed, socket };
}

/** Bounds the wait: a connection the server never closes fails the test instead of hanging it. */
const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still open after ${ms} ms`)), ms))]);

describe("connection timeouts", () => {
  it("50 slow-body connections are closed after the request timeout", async () => {
    const conns = Array.from({ length: 50 }, () => {
      const c = rawConnection(
        'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"username":',
      );
      // Trickle a byte now and then: activity that an idle timeout alone would not catch.
      const trickle = setInterval(() => c.socket.write(" "), 300);
      void c.closed.then(() => clearInterval(trickle));
      return c;
    });
    const results = await within(Promise.all(conns.map((c) => c.closed)), 20_000);
    for (const r of results) {
      expect(r.ms).toBeGreaterThanOrEqual(1500);
      expect(r.answer).toMatch(/^HTTP\/1\.1 408/);
    }
  });

  it("a client that never finishes its headers is closed after the header timeout", async () => {
    const c = rawConnection("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    const trickle = setInterval(() => c.socket.write("X-Slow: 1\r\n"), 200);
    try {
      const r = await within(c.closed, 15_000);
      expect(r.answer).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      clearInterval(trickle);
    }
  });

  it("an idle keep-alive connection is closed after the keep-alive timeout", async () => {
    const c = rawConnection("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    const r = await within(c.closed, 15_000);
    expect(r.answer).toMatch(/^HTTP\/1\.1 200/);
    expect(r.answer).toMatch(/keep-alive: timeout=1/i);
  });

  it("an event stream outlives the request timeout (the request itself was complete long ago)", async () => {
    const admin = await api.bearer(api.admin);
    const s = await openStream(`http://127.0.0.1:${port}`, "/api/v1/events", { authorization: admin.headers.authorization! });
    try {
      await waitFor(async () => s.events.find((e) => e.event === "ready"), { what: "ready" });
      const outcome = await Promise.race([s.ended.then(() => "ended"), new Promise((r) => setTimeout(() => r("open"), 5000))]);
      expect(outcome).toBe("open");
    } finally {
      await s.close();
    }
  });
});
