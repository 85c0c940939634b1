import type { WebhookKind } from "@runway/shared/schemas";
import { nextAttemptAt, signatureHeaders, webhookBody } from "../domain/webhooks.js";
import type { Db } from "../store/db.js";
import { longWaitsRecord } from "../store/webhook-events.js";
import { webhookDeliveriesClaim, webhookDeliveryFinish, type ClaimedDelivery } from "../store/webhook-deliveries.js";
import type { Clock } from "./clock.js";

/** Opens a sealed signing secret (a SecretBox). */
export interface Opener {
  open(sealed: string): string;
}

export interface WebhookDeliveryDeps {
  db: Db;
  clock: Clock;
  replicaId: string;
  secrets: Opener;
  /** RUNWAY_PUBLIC_URL: links in messages (none when null). */
  publicUrl: string | null;
  /** Attempts in flight on this replica, in all and per webhook (a dead endpoint holds at most `perWebhook`). */
  concurrency?: number;
  perWebhook?: number;
  /** One attempt's bound: connect, send, and the answer's headers. */
  timeoutMs?: number;
  /** How long a claim is held: past it, another replica may deliver (the attempt is over long before). */
  leaseMs?: number;
  /** How often long waits are sampled (RUN_WAITING_LONG). */
  longWaitIntervalMs?: number;
  backoffMs?: (attempts: number) => number;
  /** Called after every attempt (metrics; test signal). */
  onAttempt?: (a: AttemptReport) => void;
  onError?: (err: unknown) => void;
}

export interface AttemptReport {
  delivery: ClaimedDelivery;
  ok: boolean;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  outcome: "delivered" | "retry" | "gave_up" | "lost";
}

/** The answer's first bytes, for the log: enough to see what the endpoint said. */
const ANSWER_BYTES = 300;

/**
 * The webhook delivery loop of one replica (every replica runs one). runOnce() claims as many due
 * deliveries as it has free slots and starts them without waiting: a slow endpoint holds its own slots
 * (at most `perWebhook`) until its timeout and never the loop, the schedulers or other webhooks.
 */
export class WebhookDelivery {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly busy = new Map<string, number>();
  private lastLongWaitAt = 0;
  private readonly concurrency: number;
  private readonly perWebhook: number;
  private readonly timeoutMs: number;
  private readonly leaseMs: number;

  constructor(private readonly d: WebhookDeliveryDeps) {
    this.concurrency = d.concurrency ?? 16;
    this.perWebhook = d.perWebhook ?? 2;
    this.timeoutMs = d.timeoutMs ?? 10_000;
    this.leaseMs = d.leaseMs ?? this.timeoutMs * 3;
  }

  /** Claims and starts due deliveries; returns how many it started. Also samples long waits now and then. */
  async runOnce(): Promise<number> {
    const now = this.d.clock.now();
    if (now.getTime() - this.lastLongWaitAt >= (this.d.longWaitIntervalMs ?? 30_000)) {
      this.lastLongWaitAt = now.getTime();
      await longWaitsRecord(this.d.db, { now });
    }
    const free = this.concurrency - this.inFlight.size;
    if (free <= 0) return 0;
    const claimed = await webhookDeliveriesClaim(this.d.db, {
      replicaId: this.d.replicaId,
      now,
      limit: free,
      perWebhook: this.perWebhook,
      busy: this.busy,
      leaseMs: this.leaseMs,
    });
    for (const c of claimed) {
      this.busy.set(c.webhook.id, (this.busy.get(c.webhook.id) ?? 0) + 1);
      const p = this.attempt(c)
        .catch((err: unknown) => this.d.onError?.(err))
        .finally(() => {
          this.inFlight.delete(c.id);
          const n = (this.busy.get(c.webhook.id) ?? 1) - 1;
          if (n <= 0) this.busy.delete(c.webhook.id);
          else this.busy.set(c.webhook.id, n);
        });
      this.inFlight.set(c.id, p);
    }
    return claimed.length;
  }

  /** Attempts in flight on this replica. */
  get active(): number {
    return this.inFlight.size;
  }

  /** Waits for the attempts in flight (each is bounded by its timeout). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inFlight.values()]);
  }

  private async attempt(c: ClaimedDelivery): Promise<void> {
    const started = this.d.clock.now();
    const t0 = performance.now();
    let statusCode: number | null = null;
    let error: string | null = null;
    try {
      const body = JSON.stringify(webhookBody(c.webhook.kind as WebhookKind, c.event, this.d.publicUrl));
      const res = await fetch(c.webhook.url, {
        method: "POST",
        headers: this.headers(c, body),
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      statusCode = res.status;
      if (res.status < 200 || res.status >= 300) {
        const text = await readSome(res, ANSWER_BYTES, this.timeoutMs);
        error = `HTTP ${res.status}${text ? `: ${text}` : ""}`;
      } else {
        await res.body?.cancel().catch(() => undefined);
      }
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      error =
        err.name === "TimeoutError"
          ? `no answer within ${this.timeoutMs} ms`
          : `${err.message}${err.cause?.message ? `: ${err.cause.message}` : ""}`;
    }
    const durationMs = performance.now() - t0;
    const ok = error === null;
    const at = new Date(started.getTime() + durationMs);
    const retryAt = ok
      ? null
      : nextAttemptAt({
          now: at,
          createdAt: c.retrySince,
          attempts: c.attempts,
          ...(this.d.backoffMs ? { backoffMs: this.d.backoffMs } : {}),
        });
    const written = await webhookDeliveryFinish(this.d.db, {
      id: c.id,
      replicaId: this.d.replicaId,
      epoch: c.epoch,
      at,
      statusCode,
      durationMs,
      error,
      ok,
      retryAt,
    });
    const outcome = !written ? "lost" : ok ? "delivered" : retryAt ? "retry" : "gave_up";
    this.d.onAttempt?.({ delivery: c, ok, statusCode, durationMs, error, outcome });
  }

  private headers(c: ClaimedDelivery, body: string): Record<string, string> {
    const h: Record<string, string> = { "content-type": "application/json", "user-agent": "Runway-Webhooks/1" };
    if (c.webhook.kind !== "generic") return h;
    h["webhook-id"] = c.event.uid;
    if (c.webhook.sealedSecret) {
      const timestamp = Math.floor(this.d.clock.now().getTime() / 1000);
      Object.assign(h, signatureHeaders({ secret: this.d.secrets.open(c.webhook.sealedSecret), id: c.event.uid, timestamp, body }));
    }
    return h;
  }
}

/** Up to `max` characters of an answer's body, within a bound (a body that trickles is cut). */
async function readSome(res: Response, max: number, timeoutMs: number): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  const timer = setTimeout(() => void reader.cancel().catch(() => undefined), timeoutMs);
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } catch {
    // The body was cut: what came is enough.
  } finally {
    clearTimeout(timer);
    void reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).toString("utf8").slice(0, max).replace(/\s+/g, " ").trim();
}
