import pg from "pg";

/**
 * One dedicated connection LISTENing on the notification channels, reconnecting with backoff when it
 * drops. After a reconnect every handler is called with `null` (something may have been missed).
 */
export class Listener {
  private client: pg.Client | undefined;
  private closed = false;
  private readonly handlers = new Map<string, Set<(payload: string | null) => void>>();

  constructor(
    private readonly url: string,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  on(channel: string, handler: (payload: string | null) => void): () => void {
    let set = this.handlers.get(channel);
    if (!set) this.handlers.set(channel, (set = new Set()));
    set.add(handler);
    if (this.client && set.size === 1) void this.client.query(`LISTEN ${this.client.escapeIdentifier(channel)}`).catch(this.onError);
    return () => set.delete(handler);
  }

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: "runway listener" });
    client.on("notification", (m) => {
      for (const h of this.handlers.get(m.channel) ?? []) h(m.payload ?? "");
    });
    client.on("error", (err) => {
      this.onError(err);
      void this.reconnect(client);
    });
    client.on("end", () => void this.reconnect(client));
    await client.connect();
    for (const ch of this.handlers.keys()) await client.query(`LISTEN ${client.escapeIdentifier(ch)}`);
    this.client = client;
  }

  private async reconnect(old: pg.Client): Promise<void> {
    if (this.closed || this.client !== old) return;
    this.client = undefined;
    await old.end().catch(() => undefined);
    for (let delay = 100; !this.closed; delay = Math.min(delay * 2, 5000)) {
      try {
        await this.connect();
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
    await this.client?.end().catch(() => undefined);
  }
}
