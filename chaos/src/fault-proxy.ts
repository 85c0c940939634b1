import net from "node:net";

/**
 * A TCP proxy on loopback between replicas and a PostgreSQL server: the network path the chaos harness
 * breaks. It forwards bytes unchanged, and on command:
 *
 * - **black hole**: nothing passes in either direction, on existing and new connections, and nothing is
 *   closed (no FIN, no RST). New connections are accepted (the proxy's kernel answers the handshake) but
 *   never reach the server. The black hole ends in one of two ways: `resume` delivers everything that
 *   was held, in order, as TCP's retransmissions would after a partition shorter than its timeouts;
 *   `sever` leaves every connection that was inside the black hole dead for good, still without FIN or
 *   RST (a NAT or firewall that lost its state), while new connections work again;
 * - **reset**: every connection is ended with an RST (both sides), and new ones are reset at once until
 *   healed (the client sees ECONNRESET; a real refused connect would say ECONNREFUSED);
 * - **latency**: each chunk is delivered `ms` after it arrived, both directions, order kept.
 *
 * Limit: TCP keepalive probes are answered by the proxy's own kernel, so they cannot notice a black
 * hole here (on a real network they would). So the proxy does what the replica's kernel would: a severed
 * connection's client side is reset KEEPALIVE_VERDICT_MS after the black hole began (the executor's
 * keepalives: 10 s idle, then probes a second apart, ten of them). Its server side stays open, as the
 * server has no way to know. A server whose upstream is down (a restart) makes the proxy reset the client
 * connection.
 */

/** When the replica's keepalives would have declared a silent connection dead (executors/target-pools.ts). */
export const KEEPALIVE_VERDICT_MS = 20_000;
export type ProxyMode = { kind: "ok" } | { kind: "blackhole" } | { kind: "reset" } | { kind: "latency"; ms: number };

interface Conn {
  client: net.Socket;
  upstream?: net.Socket;
  /** Inside a black hole that has not ended yet. */
  held: boolean;
  /** Dead for good (a severed black hole): bytes are dropped, nothing is closed until the proxy closes. */
  severed: boolean;
  pumps: (() => void)[];
  /** Deferred upstream connect of a connection accepted inside a black hole. */
  connect?: () => void;
}

export class FaultProxy {
  private mode: ProxyMode = { kind: "ok" };
  private readonly conns = new Set<Conn>();
  private readonly server: net.Server;
  /** Connections accepted, reset and severed, for the report. */
  readonly stats = { accepted: 0, reset: 0, severed: 0 };
  port = 0;

  constructor(
    readonly name: string,
    private readonly upstreamPort: number,
  ) {
    this.server = net.createServer((client) => this.accept(client));
    this.server.on("error", () => undefined);
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  get current(): ProxyMode {
    return this.mode;
  }

  blackhole(): void {
    this.mode = { kind: "blackhole" };
    this.blackholeAt = Date.now();
    for (const c of this.conns) c.held = true;
  }

  private blackholeAt = 0;

  reset(): void {
    this.mode = { kind: "reset" };
    for (const c of [...this.conns]) this.destroy(c, true);
  }

  latency(ms: number): void {
    this.mode = { kind: "latency", ms };
  }

  /** Ends any fault. `sever`: connections held in a black hole stay dead instead of resuming. */
  heal(opts: { sever?: boolean } = {}): void {
    this.mode = { kind: "ok" };
    for (const c of this.conns) {
      if (!c.held) continue;
      c.held = false;
      if (opts.sever) {
        c.severed = true;
        this.stats.severed++;
        // What the replica's kernel would do on a real network once its keepalive probes went unanswered.
        const verdict = setTimeout(() => c.client.resetAndDestroy(), Math.max(0, this.blackholeAt + KEEPALIVE_VERDICT_MS - Date.now()));
        verdict.unref();
        continue;
      }
      if (c.connect) c.connect();
      for (const p of c.pumps) p();
    }
  }

  /** Stops listening and destroys every connection (severed ones included). */
  async close(): Promise<void> {
    for (const c of [...this.conns]) this.destroy(c, false);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.stats.accepted++;
    client.on("error", () => undefined);
    client.setNoDelay(true);
    if (this.mode.kind === "reset") {
      this.stats.reset++;
      client.resetAndDestroy();
      return;
    }
    const c: Conn = { client, held: this.mode.kind === "blackhole", severed: false, pumps: [] };
    this.conns.add(c);
    client.once("close", () => {
      if (!c.held && !c.severed) this.conns.delete(c);
    });
    const connect = () => {
      c.connect = undefined;
      // The client gave up inside the black hole: nothing to deliver, no session to open.
      if (client.destroyed || client.readableEnded) {
        this.conns.delete(c);
        return;
      }
      const up = net.connect({ port: this.upstreamPort, host: "127.0.0.1" });
      c.upstream = up;
      up.setNoDelay(true);
      up.on("error", () => undefined);
      // Upstream refused (a restart) or reset: the client sees its connection reset.
      up.once("close", (hadError) => {
        if (hadError && !c.held && !c.severed) this.destroy(c, true);
      });
      this.forward(c, client, up);
      this.forward(c, up, client);
    };
    if (c.held) {
      // Never reaches the server while the black hole lasts; the client's bytes wait in the kernel.
      client.pause();
      c.connect = connect;
    } else connect();
  }

  /** One direction of a connection: queue, delay, hold, or drop; the end of `src` follows its bytes. */
  private forward(c: Conn, src: net.Socket, dst: net.Socket): void {
    const queue: { buf: Buffer; due: number }[] = [];
    let srcEnded = false;
    let timer: NodeJS.Timeout | undefined;
    const pump = () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (c.held || c.severed || dst.destroyed) return;
      while (queue.length > 0) {
        const wait = queue[0]!.due - Date.now();
        if (wait > 0) {
          timer = setTimeout(pump, wait);
          return;
        }
        dst.write(queue.shift()!.buf);
      }
      if (srcEnded) {
        dst.end();
        this.conns.delete(c);
      } else if (src.isPaused()) src.resume();
    };
    src.on("data", (buf: Buffer) => {
      if (c.severed) return;
      queue.push({ buf, due: Date.now() + (this.mode.kind === "latency" ? this.mode.ms : 0) });
      if (queue.length > 64 || c.held) src.pause();
      pump();
    });
    src.once("close", () => {
      srcEnded = true;
      pump();
    });
    c.pumps.push(pump);
    if (src.isPaused() && !c.held) src.resume();
  }

  private destroy(c: Conn, rst: boolean): void {
    if (rst && !c.client.destroyed) this.stats.reset++;
    this.conns.delete(c);
    for (const s of [c.client, c.upstream]) {
      if (!s || s.destroyed) continue;
      if (rst) {
        try {
          s.resetAndDestroy();
        } catch {
          s.destroy();
        }
      } else s.destroy();
    }
  }
}
