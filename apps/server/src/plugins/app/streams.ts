import fp from "fastify-plugin";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import { Channel } from "../../store/db.js";
import { ApiError, ErrorCode } from "./api-error.js";
import { authenticate, type AuthUser, type Credential } from "./auth.js";

/** One open long-lived answer (an SSE stream) and what keeps it allowed. */
export interface StreamEntry {
  user: AuthUser;
  /** Whether the user, as they are now, may still read this stream (role checks). */
  allowed: (user: AuthUser) => boolean;
  /** Ends the stream; `reason` is told to the client. */
  close: (reason: string) => void;
}

interface Options {
  maxPerUser: number;
  maxTotal: number;
  /** The user a credential stands for now (undefined: signed out, expired, revoked, disabled). */
  check: (credential: Credential) => Promise<AuthUser | undefined>;
  log: FastifyBaseLogger;
}

const credentialKey = (c: Credential) => `${c.kind}:${c.hash}`;

/**
 * Open SSE streams of this replica. Caps them per user and in total (past either, 429), and ends a stream
 * whose credential stops standing for a user allowed to read it. A stream is checked again on every
 * change the store announces for its user (sign-out, disable, role change, token revoke: the AUTH
 * channel, from any replica) and, for what nobody announces (a session or token reaching its expiry), on
 * an interval. A check costs one query per distinct credential, done one after the other: a replica
 * holds at most maxTotal streams, so the work per interval is bounded by it.
 */
export class StreamRegistry {
  private readonly entries = new Set<StreamEntry>();
  private readonly perUser = new Map<string, number>();
  private sweeping = false;

  constructor(private readonly opts: Options) {}

  get size(): number {
    return this.entries.size;
  }

  /** Registers a stream, or refuses it with 429 past a cap. Returns the release to call when it closes. */
  admit(entry: StreamEntry): () => void {
    const username = entry.user.username;
    const mine = this.perUser.get(username) ?? 0;
    if (mine >= this.opts.maxPerUser) {
      throw new ApiError(
        429,
        ErrorCode.RATE_LIMITED,
        `${username} already has ${mine} open event streams on this replica (at most ${this.opts.maxPerUser}); close one first`,
      );
    }
    if (this.entries.size >= this.opts.maxTotal) {
      throw new ApiError(
        429,
        ErrorCode.RATE_LIMITED,
        `this replica serves its maximum of ${this.opts.maxTotal} event streams; retry later`,
      );
    }
    this.entries.add(entry);
    this.perUser.set(username, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.entries.delete(entry);
      const n = (this.perUser.get(username) ?? 1) - 1;
      if (n <= 0) this.perUser.delete(username);
      else this.perUser.set(username, n);
    };
  }

  /** Checks the streams of `username` (all streams when undefined) and ends those no longer allowed. */
  async recheck(username?: string): Promise<void> {
    const groups = new Map<string, StreamEntry[]>();
    for (const e of this.entries) {
      if (username !== undefined && e.user.username !== username) continue;
      const key = credentialKey(e.user.credential);
      groups.set(key, [...(groups.get(key) ?? []), e]);
    }
    for (const group of groups.values()) {
      let now: AuthUser | undefined;
      try {
        now = await this.opts.check(group[0]!.user.credential);
      } catch (err) {
        // The control database is unreachable: keep the streams; the next check decides.
        this.opts.log.warn({ err }, "could not re-check an event stream's credential");
        continue;
      }
      for (const e of group) {
        if (!this.entries.has(e)) continue;
        if (!now) e.close("your session or API token has ended");
        else if (now.username !== e.user.username || !e.allowed(now)) e.close("you may no longer read this stream");
      }
    }
  }

  /** The interval's check; skipped while the previous one still runs. */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      await this.recheck();
    } finally {
      this.sweeping = false;
    }
  }
}

declare module "fastify" {
  interface FastifyInstance {
    streams: StreamRegistry;
  }
}

export default fp(
  async function streams(app: FastifyInstance) {
    const { db, clock, config } = app.ctx;
    const registry = new StreamRegistry({
      maxPerUser: config.sseMaxPerUser,
      maxTotal: config.sseMaxStreams,
      check: (credential) => authenticate(db, clock.now(), credential),
      log: app.log,
    });
    app.decorate("streams", registry);
    app.notifications.on(Channel.AUTH, (payload) => {
      let username: string | undefined;
      try {
        // null: the listener reconnected and may have missed announcements; check everyone.
        username = payload === null ? undefined : String((JSON.parse(payload) as { username: unknown }).username);
      } catch {
        username = undefined;
      }
      void registry.recheck(username).catch((err: unknown) => app.log.error({ err }, "event stream re-check failed"));
    });
    const timer = setInterval(
      () => void registry.sweep().catch((err: unknown) => app.log.error({ err }, "event stream sweep failed")),
      config.sseRecheckMs,
    );
    timer.unref();
    app.addHook("onClose", async () => clearInterval(timer));
  },
  { name: "runway-streams", dependencies: ["runway-context", "runway-change-feed"] },
);
