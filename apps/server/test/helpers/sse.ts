import http from "node:http";

export interface SseEvent {
  event: string;
  data: unknown;
}

/**
 * A real HTTP SSE client (node:http without keep-alive, so closing it really closes the socket):
 * parses `event:`/`data:` blocks as they arrive. A non-200 answer is read whole into `body`.
 */
export async function openStream(baseUrl: string, path: string, headers: Record<string, string>) {
  const events: SseEvent[] = [];
  let buffer = "";
  let req!: http.ClientRequest;
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    req = http.get(baseUrl + path, { agent: false, headers: { accept: "text/event-stream", ...headers } }, resolve);
    req.on("error", reject);
  });
  const ended = new Promise<void>((resolve) => {
    res.on("close", resolve);
    res.on("error", () => resolve());
  });
  res.setEncoding("utf8");
  res.on("data", (chunk: string) => {
    buffer += chunk;
    if (res.statusCode !== 200) return;
    let cut: number;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const event = /^event: ?(.*)$/m.exec(block)?.[1];
      const data = block
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.replace(/^data: ?/, ""))
        .join("\n");
      if (event || data) events.push({ event: event ?? "message", data: data ? JSON.parse(data) : null });
    }
  });
  return {
    status: res.statusCode,
    contentType: res.headers["content-type"],
    events,
    ended,
    body: async () => {
      await ended;
      return buffer;
    },
    close: async () => {
      req.destroy();
      await ended;
    },
  };
}
