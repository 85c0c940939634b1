import net from "node:net";

/**
 * A TCP proxy on loopback between a client and PostgreSQL that can fail the way networks do:
 *
 * - `blackhole()`: the path goes silent. Nothing is forwarded either way and nothing is closed (no RST,
 *   no FIN); new connections are accepted and then hear nothing. Bytes are held, not dropped (reading is
 *   paused), so `pass()` delivers them late, as TCP retransmission would after a partition heals.
 *   `{ existing: true }` silences only the connections open now (a firewall that lost their state) and
 *   lets new ones through; `{ replies: true }` holds only what the server sends (the request arrives,
 *   its answer never does: the ambiguous case for a COMMIT).
 *   On loopback the kernel still acknowledges everything, so TCP keepalives cannot notice this black
 *   hole: only a client-side bound can. That makes it the harder case to test.
 * - `reset()`: every open connection gets an RST on both sides (a middlebox dropping its state, a
 *   restarted peer); new connections still pass.
 * - `refuse()`: new connections are reset at once (like a closed port: ECONNRESET at the client).
 * - `pass()`: forward everything again.
 *
 * No server imports: usable by any test or harness that needs a faulty path to a TCP service.
 */
export type FaultMode = "pass" | "blackhole" | "refuse";

interface Pair {
  client: net.Socket;
  upstream?: net.Socket;
}

export interface BlackholeScope {
  /** Only the connections open now; new ones pass. */
  existing?: boolean;
  /** Hold only the server's direction. */
  replies?: boolean;
}

export class FaultProxy {
  private mode: FaultMode = "pass";
  private readonly pairs = new Set<Pair>();
  private readonly server: net.Server;

  private constructor(
    private readonly upstreamHost: string,
    private readonly upstreamPort: number,
  ) {
    this.server = net.createServer((client) => this.accept(client));
  }

  /** Starts a proxy on 127.0.0.1 (random port) in front of host:port. */
  static async start(upstreamHost: string, upstreamPort: number): Promise<FaultProxy> {
    const p = new FaultProxy(upstreamHost, upstreamPort);
    await new Promise<void>((resolve, reject) => {
      p.server.once("error", reject);
      p.server.listen(0, "127.0.0.1", () => resolve());
    });
    return p;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** `url` with its host and port replaced by the proxy's (for PostgreSQL connection URLs). */
  rewrite(url: string): string {
    const u = new URL(url);
    u.hostname = "127.0.0.1";
    u.port = String(this.port);
    return u.toString();
  }

  /** Connections currently open through the proxy. */
  get connections(): number {
    return this.pairs.size;
  }

  private accept(client: net.Socket): void {
    client.on("error", () => undefined);
    if (this.mode === "refuse") return void client.resetAndDestroy();
    const pair: Pair = { client };
    this.pairs.add(pair);
    client.on("close", () => {
      pair.upstream?.destroy();
      this.pairs.delete(pair);
    });
    if (this.mode === "blackhole")
      client.pause(); // connected, then silence; linked up on pass()
    else this.link(pair);
  }

  private link(pair: Pair): void {
    const up = net.connect(this.upstreamPort, this.upstreamHost);
    pair.upstream = up;
    up.on("error", () => undefined);
    up.on("close", () => pair.client.destroy());
    // Manual forwarding (not pipe()): pipe resumes a paused source on drain, which would leak data
    // through a black hole.
    pair.client.on("data", (d: Buffer) => up.write(d));
    up.on("data", (d: Buffer) => pair.client.write(d));
    pair.client.resume();
  }

  blackhole(scope: BlackholeScope = {}): void {
    if (!scope.existing) this.mode = "blackhole";
    for (const p of this.pairs) {
      if (!scope.replies) p.client.pause();
      p.upstream?.pause();
    }
  }

  pass(): void {
    this.mode = "pass";
    for (const p of this.pairs) {
      if (p.upstream) {
        p.upstream.resume();
        p.client.resume();
      } else {
        this.link(p);
      }
    }
  }

  refuse(): void {
    this.mode = "refuse";
  }

  /** RST to both ends of every open connection. */
  reset(): void {
    for (const p of this.pairs) {
      p.client.resetAndDestroy();
      p.upstream?.resetAndDestroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream?.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
