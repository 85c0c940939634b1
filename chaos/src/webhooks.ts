import { createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type pg from "pg";
import type { Api } from "./api.js";
import { Rng } from "./rng.js";
import { waitFor } from "./wait.js";
import type { Workload } from "./workload.js";

/**
 * The chaos run's webhook endpoint: a real HTTP server in the harness that fails half the requests —
 * half of those with a 500 after reading the request (the sender cannot tell whether it was processed),
 * half by resetting the connection — and records every request it read, with whether it answered 2xx.
 * Every project gets a generic (signed) webhook for TASK_RUN_FAILED and ROLLOUT_DONE pointing at it.
 */

export interface ReceivedHook {
  id: string;
  type: string;
  body: string;
  /** Answered 2xx: the receiver accepted (processed) it. */
  accepted: boolean;
  signatureOk: boolean;
}

export interface WebhookFacts {
  received: ReceivedHook[];
  /** Every recorded event of the chaos webhooks: uid, kind, run or rollout, and its deliveries' states. */
  events: { uid: string; kind: string; runId: string | null; rolloutId: string | null; states: string[] }[];
  /** Runs that ended FAILED, and rollouts whose every task is DONE or SKIPPED (what must have an event). */
  failedRuns: string[];
  doneRollouts: string[];
}

const EVENTS = ["TASK_RUN_FAILED", "ROLLOUT_DONE"];

/** Standard Webhooks verification, written independently of the server's code (docs/api.md's recipe). */
function signatureOk(secret: string, h: http.IncomingHttpHeaders, body: string): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const want = Buffer.from(
    `v1,${createHmac("sha256", key)
      .update(`${String(h["webhook-id"])}.${String(h["webhook-timestamp"])}.${body}`)
      .digest("base64")}`,
  );
  const ts = Number(h["webhook-timestamp"]);
  if (!Number.isInteger(ts) || Math.abs(Date.now() / 1000 - ts) > 300) return false;
  return String(h["webhook-signature"] ?? "")
    .split(" ")
    .some((s) => Buffer.from(s).length === want.length && timingSafeEqual(Buffer.from(s), want));
}

export class FlakyReceiver {
  readonly received: ReceivedHook[] = [];
  private readonly secrets = new Map<string, string>();
  private server: http.Server | undefined;
  private port = 0;

  constructor(private readonly rng: Rng) {}

  async listen(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const secret = this.secrets.get(req.url ?? "") ?? "";
        let parsed: { id?: string; type?: string } = {};
        try {
          parsed = JSON.parse(body) as typeof parsed;
        } catch {
          // recorded with an empty id: an invented delivery
        }
        const roll = this.rng.int(0, 3);
        const accepted = roll >= 2;
        this.received.push({
          id: String(parsed.id ?? ""),
          type: String(parsed.type ?? ""),
          body,
          accepted,
          signatureOk: signatureOk(secret, req.headers, body),
        });
        if (roll === 0) res.socket?.destroy();
        else res.writeHead(accepted ? 200 : 500).end(accepted ? "ok" : "flaky");
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** A generic webhook per project, before any rollout runs; the secret (shown once) is kept to verify. */
  async subscribe(api: Api, w: Workload): Promise<void> {
    for (const p of w.projects) {
      const path = `/hook/${p.id}`;
      const created = await api.must<{ secret: string }>(
        "POST",
        `/projects/${p.id}/webhooks`,
        { title: "chaos receiver", url: `http://127.0.0.1:${this.port}${path}`, kind: "generic", events: EVENTS },
        201,
      );
      this.secrets.set(path, created.secret);
    }
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** Waits (replicas still up) until no delivery is PENDING; false when the deadline passed first. */
export async function settleDeliveries(control: pg.Pool, timeoutMs: number): Promise<boolean> {
  try {
    await waitFor("webhook deliveries settled", timeoutMs, async () => {
      const { rows } = await control.query<{ n: string }>(`SELECT count(*) AS n FROM webhook_delivery WHERE state = 'PENDING'`);
      return rows[0]!.n === "0";
    });
    return true;
  } catch {
    return false;
  }
}

export async function readWebhookFacts(control: pg.Pool, received: ReceivedHook[]): Promise<WebhookFacts> {
  const events = await control.query(`
    SELECT e.uid::text AS uid, e.kind, e.run_id, e.rollout_id, array_agg(d.state ORDER BY d.id) AS states
    FROM webhook_event e JOIN webhook_delivery d ON d.event_id = e.id GROUP BY e.id ORDER BY e.id`);
  const failed = await control.query(`SELECT id FROM task_run WHERE status = 'FAILED' ORDER BY id`);
  const done = await control.query(`
    SELECT r.id FROM rollout r WHERE NOT EXISTS (SELECT 1 FROM task t WHERE t.rollout_id = r.id AND t.status NOT IN ('DONE', 'SKIPPED'))
    ORDER BY r.id`);
  return {
    received,
    events: events.rows.map((r) => ({ uid: r.uid, kind: r.kind, runId: r.run_id, rolloutId: r.rollout_id, states: r.states })),
    failedRuns: failed.rows.map((r) => r.id),
    doneRollouts: done.rows.map((r) => r.id),
  };
}
