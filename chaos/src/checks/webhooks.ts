import type { CheckResult } from "../facts.js";
import type { CheckContext } from "./context.js";
import { push } from "./context.js";

/**
 * 11. Webhooks: every recorded event delivered exactly once to the receiver (by id), none invented.
 *
 * Delivery is at least once on the wire (a 500 after the receiver processed a request, a replica killed
 * between the answer and its write, a lease taken over), so "exactly once" is what a receiver that
 * de-duplicates by the event id sees. Precisely, with the receiver failing half the requests:
 * - outbox: every run that ended FAILED has exactly one TASK_RUN_FAILED event, every rollout whose tasks
 *   are all DONE or SKIPPED exactly one ROLLOUT_DONE event, and no event names a run or rollout that is not
 *   so (a change rolled back or never made recorded nothing);
 * - every recorded event's id was accepted (answered 2xx) by the receiver at least once, and every delivery
 *   row of it is DELIVERED (none left PENDING or given up);
 * - every id the receiver ever read is a recorded event's id, with a valid signature, and every copy of an
 *   id carries byte-identical payloads: after de-duplication by id the receiver holds each recorded event
 *   once and nothing else.
 */
export function checkWebhooks(c: CheckContext): CheckResult {
  const name = "11. Webhooks: every recorded event delivered exactly once (by id), none invented";
  const f = c.facts.webhooks;
  if (!f) return { name, ok: true, detail: "no webhooks in this run", violations: [] };
  const v: string[] = [];

  const failedEvents = new Map<string, string[]>();
  const doneEvents = new Map<string, string[]>();
  for (const e of f.events) {
    if (e.kind === "TASK_RUN_FAILED") push(failedEvents, e.runId ?? "?", e.uid);
    else if (e.kind === "ROLLOUT_DONE") push(doneEvents, e.rolloutId ?? "?", e.uid);
  }
  const failed = new Set(f.failedRuns);
  const done = new Set(f.doneRollouts);
  for (const id of failed) {
    const n = failedEvents.get(id)?.length ?? 0;
    if (n !== 1) v.push(`run ${id} ended FAILED with ${n} TASK_RUN_FAILED events (want 1)`);
  }
  for (const id of failedEvents.keys()) if (!failed.has(id)) v.push(`TASK_RUN_FAILED event for run ${id}, which is not FAILED`);
  for (const id of done) {
    const n = doneEvents.get(id)?.length ?? 0;
    if (n !== 1) v.push(`rollout ${id} is done with ${n} ROLLOUT_DONE events (want 1)`);
  }
  for (const id of doneEvents.keys()) if (!done.has(id)) v.push(`ROLLOUT_DONE event for rollout ${id}, which is not done`);

  const recorded = new Set(f.events.map((e) => e.uid));
  const accepted = new Set(f.received.filter((r) => r.accepted).map((r) => r.id));
  const bodies = new Map<string, string>();
  for (const e of f.events) {
    if (!accepted.has(e.uid)) v.push(`event ${e.uid} (${e.kind}) was never accepted by the receiver`);
    const stuck = e.states.filter((s) => s !== "DELIVERED");
    if (stuck.length) v.push(`event ${e.uid} has deliveries ${stuck.join(", ")}`);
  }
  for (const r of f.received) {
    if (!recorded.has(r.id)) v.push(`the receiver got id "${r.id}" (${r.type}), which no recorded event has`);
    if (!r.signatureOk) v.push(`a delivery of ${r.id} has no valid signature`);
    const seen = bodies.get(r.id);
    if (seen === undefined) bodies.set(r.id, r.body);
    else if (seen !== r.body) v.push(`event ${r.id} arrived with different payloads`);
  }
  const copies = f.received.length;
  const dupes = f.received.filter((r) => r.accepted).length - accepted.size;
  return {
    name,
    ok: v.length === 0,
    detail:
      `${f.events.length} events (${failed.size} failed runs, ${done.size} done rollouts), ${copies} requests read ` +
      `(${copies - f.received.filter((r) => r.accepted).length} failed on purpose, ${dupes} accepted duplicates removed by id)`,
    violations: v,
  };
}
