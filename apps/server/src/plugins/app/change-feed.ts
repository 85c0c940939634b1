import fp from "fastify-plugin";
import type { FastifyInstance } from "fastify";
import { Listener } from "../../db/listener.js";
import { Channel } from "../../store/db.js";
import type { ChangeEvent } from "@runway/shared/schemas";

export interface ChangeSink {
  send(ev: ChangeEvent): void;
  close(): void;
}

/**
 * Fans `runway_change` notifications out to SSE subscribers. NOTIFY reaches every replica's listener,
 * so a change made through any replica reaches clients of all of them. Bursts (a pass promoting 100
 * runs of one rollout) are coalesced: one event per rollout per window.
 */
export class ChangeFeed {
  private readonly byRollout = new Map<string, Set<ChangeSink>>();
  private readonly all = new Set<ChangeSink>();
  private pending = new Set<string>();
  private resync = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly windowMs: number) {}

  subscribe(rolloutId: string | null, sink: ChangeSink): () => void {
    let set = this.all;
    if (rolloutId !== null) {
      set = this.byRollout.get(rolloutId) ?? new Set();
      this.byRollout.set(rolloutId, set);
    }
    set.add(sink);
    return () => {
      set.delete(sink);
      if (rolloutId !== null && set.size === 0) this.byRollout.delete(rolloutId);
    };
  }

  get subscribers(): number {
    let n = this.all.size;
    for (const s of this.byRollout.values()) n += s.size;
    return n;
  }

  /** Listener callback: a JSON payload `{rolloutIds}`, or null after a reconnect (anything may have been missed). */
  onNotify = (payload: string | null): void => {
    if (payload === null) this.resync = true;
    else {
      try {
        for (const id of (JSON.parse(payload) as { rolloutIds?: unknown[] }).rolloutIds ?? []) this.pending.add(String(id));
      } catch {
        this.resync = true;
      }
    }
    this.timer ??= setTimeout(this.flush, this.windowMs);
  };

  private flush = (): void => {
    this.timer = undefined;
    const ids = this.pending;
    const resync = this.resync;
    this.pending = new Set();
    this.resync = false;
    if (resync) {
      for (const [id, sinks] of this.byRollout) for (const s of sinks) s.send({ rolloutId: id, resync: true });
      for (const s of this.all) s.send({ rolloutId: null, resync: true });
    }
    for (const id of ids) {
      for (const s of this.byRollout.get(id) ?? []) if (!resync) s.send({ rolloutId: id });
      for (const s of this.all) s.send({ rolloutId: id });
    }
  };

  /** Ends every stream (server shutdown: open streams would otherwise hold the close forever). */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const sinks of [this.all, ...this.byRollout.values()]) for (const s of [...sinks]) s.close();
  }
}

declare module "fastify" {
  interface FastifyInstance {
    changeFeed: ChangeFeed;
    notifications: Listener;
  }
}

export default fp(
  /**
   * `listener`: the replica's LISTEN connection, shared with its schedulers (the replica closes it).
   * Without one (an app without schedulers, as in tests) the feed opens and closes its own.
   */
  async function changeFeed(app: FastifyInstance, opts: { databaseUrl: string; listener?: Listener; windowMs?: number }) {
    const feed = new ChangeFeed(opts.windowMs ?? 100);
    const own = opts.listener ? undefined : new Listener(opts.databaseUrl, (err) => app.log.error({ err }, "change-feed listener error"));
    const listener = opts.listener ?? own!;
    const off = listener.on(Channel.CHANGE, feed.onNotify);
    await own?.start();
    app.decorate("changeFeed", feed);
    // Shared with other plugins that need notifications (plugins/app/streams.ts): one LISTEN connection per replica.
    app.decorate("notifications", listener);
    app.addHook("preClose", async () => feed.close());
    app.addHook("onClose", async () => {
      off();
      await own?.close();
    });
  },
  { name: "runway-change-feed" },
);
