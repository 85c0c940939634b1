import http from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown>;
}

/** What the receiver does with a request: answer with a status, or never answer (a hung endpoint). */
export type Reply = { status: number; body?: string } | "hang";

/**
 * A real HTTP endpoint on the loopback interface that records every request. `reply` decides each answer
 * (default 200); hung requests are cut when the receiver closes.
 */
export async function startReceiver(reply: (r: Received, n: number) => Reply = () => ({ status: 200 })) {
  const received: Received[] = [];
  const hung = new Set<http.ServerResponse>();
  const waiters: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(body) as Record<string, unknown>;
      } catch {
        // recorded as it came
      }
      const r: Received = { path: req.url ?? "/", headers: req.headers, body, json };
      received.push(r);
      for (const w of waiters.splice(0)) w();
      const answer = reply(r, received.length);
      if (answer === "hang") {
        hung.add(res);
        return;
      }
      res.writeHead(answer.status, { "content-type": "text/plain" }).end(answer.body ?? "ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path = "/hook") => `http://127.0.0.1:${port}${path}`,
    received,
    /** Cuts every hung request (their senders see a reset). */
    release(): void {
      for (const res of hung) res.socket?.destroy();
      hung.clear();
    },
    async close(): Promise<void> {
      this.release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
