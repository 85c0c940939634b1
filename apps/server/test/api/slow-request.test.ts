import Fastify from "fastify";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import http from "../../src/plugins/external/http.js";

/** Log lines the app wrote, parsed. */
function captureLog(): { stream: Writable; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { stream, lines };
}

describe("slow requests", () => {
  it("are logged at warn with their route, status and time; quick ones and event streams are not", async () => {
    const log = captureLog();
    const app = Fastify({ logger: { level: "warn", stream: log.stream } });
    await app.register(http, { slowRequestMs: 50 });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    app.get("/held/:id", async () => {
      await held;
      return { ok: true };
    });
    app.get("/quick", async () => ({ ok: true }));
    app.get("/stream", async (_req, reply) => {
      await held;
      return reply.header("content-type", "text/event-stream").send(": bye\n\n");
    });
    await app.ready();
    try {
      const slow = app.inject({ method: "GET", url: "/held/7" });
      const stream = app.inject({ method: "GET", url: "/stream" });
      expect((await app.inject({ method: "GET", url: "/quick" })).statusCode).toBe(200);
      // Released once the slow ones have certainly waited past the threshold (measured, not slept on).
      const started = performance.now();
      await expect.poll(() => performance.now() - started, { interval: 20 }).toBeGreaterThan(80);
      release();
      expect((await slow).statusCode).toBe(200);
      expect((await stream).statusCode).toBe(200);
      const slowLines = log.lines.filter((l) => l.msg === "slow request");
      expect(slowLines).toHaveLength(1);
      expect(slowLines[0]).toMatchObject({ level: 40, method: "GET", route: "/held/:id", statusCode: 200 });
      expect(slowLines[0]!.ms as number).toBeGreaterThanOrEqual(50);
    } finally {
      await app.close();
    }
  });
});
