import net from "node:net";

/**
 * A loopback TCP proxy in front of PostgreSQL that can go silent the way a failed-over primary or a
 * black-holed route does: bytes stop flowing and nothing is closed or reset, so only a timeout can tell.
 */
export class BlackholeProxy {
  private readonly conns = new Set<{ client: net.Socket; up: net.Socket; silent: boolean }>();
  private readonly server: net.Server;
  private silentNew = false;
  port = 0;

  constructor(
    private readonly upstreamPort: number,
    private readonly upstreamHost = "127.0.0.1",
  ) {
    this.server = net.createServer((client) => {
      client.on("error", () => undefined);
      if (this.silentNew) {
        // Accepted, then never answered: the connect succeeds at the TCP level and the startup hangs.
        this.conns.add({ client, up: new net.Socket(), silent: true });
        return;
      }
      const up = net.connect(this.upstreamPort, this.upstreamHost);
      const c = { client, up, silent: false };
      this.conns.add(c);
      up.on("error", () => undefined);
      client.on("data", (d) => void (c.silent || up.write(d)));
      up.on("data", (d) => void (c.silent || client.write(d)));
      client.on("close", () => void (c.silent || up.destroy()));
      up.on("close", () => void (c.silent || client.destroy()));
    });
  }

  /** Starts listening on a free loopback port. */
  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** The URL `url` with its host and port replaced by this proxy's. */
  url(url: string): string {
    const u = new URL(url);
    u.hostname = "127.0.0.1";
    u.port = String(this.port);
    return u.toString();
  }

  /** Every current connection goes silent; new connections still pass (the address now reaches a healthy server). */
  blackholeExisting(): void {
    for (const c of this.conns) c.silent = true;
  }

  /** Current and new connections go silent (the server is unreachable). */
  blackholeAll(): void {
    this.blackholeExisting();
    this.silentNew = true;
  }

  /** New connections pass again; connections already silent stay silent, as after a real failover. */
  heal(): void {
    this.silentNew = false;
  }

  get connections(): number {
    return this.conns.size;
  }

  async close(): Promise<void> {
    for (const c of this.conns) {
      c.client.destroy();
      c.up.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
