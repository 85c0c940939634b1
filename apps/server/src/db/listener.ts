import pg from "pg";
import { CONTROL_BOUNDS, destroyConnection } from "../store/db.js";
import { STARTUP_RETRY_MS, withStartupRetry } from "./startup-retry.js";

export interface ListenerOptions {
  /** How often the connection is pinged (SELECT 1); default 5 s. */
  pingIntervalMs?: number;
  /** A ping (and any LISTEN) not answered within this ends the connection; default 5 s. */
  pingTimeoutMs?: number;
  /** Connecting; default CONTROL_BOUNDS.connectTimeoutMs. */
  connectTimeoutMs?: number;
}

/**
 * One dedicated connection LISTENing on the notification channels, reconnecting with backoff when it
 * drops. After a reconnect every handler is called with `null` (something may have been missed).
 *
 * A LISTEN connection only receives, so a peer that vanished without a reset (failover, black-holed
 * route) would never be noticed: notifications would just stop. TCP keepalives notice a dead peer; a
 * periodic ping with a bound also notices a peer that is there but no longer answers (issue 10, bug 4).
 */
export class Listener {
  private client: pg.Client | undefined;
  private pinger: NodeJS.Timeout | undefined;
  private closed = false;
  private pinging = false;
  private readonly handlers = new Map<string, Set<(payload: string | null) => void>>();
  private readonly pingIntervalMs: number;
  private readonly pingTimeoutMs: number;
  private readonly connectTimeoutMs: number;

  constructor(
    private readonly url: string,
    private readonly onError: (err: unknown) => void = () => undefined,
    opts: ListenerOptions = {},
  ) {
    this.pingIntervalMs = opts.pingIntervalMs ?? 5_000;
    this.pingTimeoutMs = opts.pingTimeoutMs ?? 5_000;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? CONTROL_BOUNDS.connectTimeoutMs;
  }

  on(channel: string, handler: (payload: string | null) => void): () => void {
    let set = this.handlers.get(channel);
    if (!set) this.handlers.set(channel, (set = new Set()));
    set.add(handler);
    const client = this.client;
    if (client && set.size === 1) void client.query(`LISTEN ${client.escapeIdentifier(channel)}`).catch((err) => this.lost(client, err));
    return () => set.delete(handler);
  }

  /**
   * The first LISTEN round. A control database that restarts while the replica starts (its sessions are
   * terminated, 57P01, or refused for a few seconds) is waited out with a backoff, up to `withinMs`; past
   * that the error stands and the replica does not start.
   */
  async start(withinMs = STARTUP_RETRY_MS): Promise<void> {
    await withStartupRetry("LISTEN", () => this.connect(), { withinMs, retryIf: () => true, warn: () => undefined });
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.url,
      application_name: "runway listener",
      connectionTimeoutMillis: this.connectTimeoutMs,
      query_timeout: this.pingTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: CONTROL_BOUNDS.keepAliveInitialDelayMs,
    });
    client.on("notification", (m) => {
      for (const h of this.handlers.get(m.channel) ?? []) h(m.payload ?? "");
    });
    client.on("error", (err) => this.lost(client, err));
    client.on("end", () => void this.reconnect(client));
    try {
      await client.connect();
      // One round trip for every channel (a replica has a dozen; they were one LISTEN each at start).
      const channels = [...this.handlers.keys()].map((ch) => `LISTEN ${client.escapeIdentifier(ch)}`);
      if (channels.length > 0) await client.query(channels.join("; "));
    } catch (err) {
      destroyConnection(client);
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
    clearInterval(this.pinger);
    this.pinger = setInterval(() => this.ping(client), this.pingIntervalMs);
    this.pinger.unref();
  }

  private ping(client: pg.Client): void {
    if (this.client !== client || this.pinging) return;
    this.pinging = true;
    client
      .query("SELECT 1")
      .catch((err) => this.lost(client, err))
      .finally(() => (this.pinging = false));
  }

  /** The connection failed or stopped answering: end its socket (pg may not have) and connect anew. */
  private lost(client: pg.Client, err: unknown): void {
    if (this.client !== client) return;
    this.onError(err);
    destroyConnection(client);
    void this.reconnect(client);
  }

  private async reconnect(old: pg.Client): Promise<void> {
    if (this.closed || this.client !== old) return;
    this.client = undefined;
    clearInterval(this.pinger);
    destroyConnection(old);
    await old.end().catch(() => undefined);
    for (let delay = 100; !this.closed; delay = Math.min(delay * 2, 5000)) {
      try {
        await this.connect();
        if (this.closed) return void (await this.close());
        for (const set of this.handlers.values()) for (const h of set) h(null);
        return;
      } catch (err) {
        this.onError(err);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pinger);
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    // A bounded end: a silent peer never answers the Terminate message.
    const ended = client.end().catch(() => undefined);
    const timer = setTimeout(() => destroyConnection(client), this.pingTimeoutMs);
    await ended;
    clearTimeout(timer);
  }
}
