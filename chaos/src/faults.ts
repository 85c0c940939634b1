import { setTimeout as delay } from "node:timers/promises";
import type pg from "pg";
import { runClockSkew, runPathFault, runRestart, type FaultWorld } from "./env-faults.js";
import type { FaultEvent } from "./facts.js";
import {
  REPLICA_FAULTS,
  TAKEOVER_FAULTS,
  isLegacySpec,
  parseFaultSpec,
  pastLeaseMs,
  planMixedFaults,
  type PlannedFault,
} from "./fault-kinds.js";
import type { ChaosOptions } from "./options.js";
import type { ReplicaSet } from "./replicas.js";
import type { Rng } from "./rng.js";

export type { PlannedFault } from "./fault-kinds.js";

/** The fault plan, from the seed: enough faults to fill the duration, one at a time. */
export function planFaults(rng: Rng, o: ChaosOptions): PlannedFault[] {
  if (o.faults === "none") return [];
  if (!isLegacySpec(o.faults)) return planMixedFaults(rng, o, parseFaultSpec(o.faults));
  const out: PlannedFault[] = [];
  let t = 0;
  const horizon = o.durationS * 1000;
  while (t < horizon) {
    const kind = o.faults === "both" ? (rng.chance(0.55) ? "kill" : "freeze") : (o.faults as "kill" | "freeze");
    // A freeze outlasts the lease and a sweep, so the run is taken over before the zombie wakes up.
    const downMs = kind === "kill" ? rng.int(300, 3000) : pastLeaseMs(rng, o);
    const gapMs = Math.round(o.faultGapMs * (0.5 + rng.int(0, 100) / 100));
    out.push({ kind, slot: rng.int(0, o.replicas - 1), gapMs, downMs });
    t += gapMs + downMs;
  }
  // `both` means both: a short plan that drew one kind only turns its last fault into the other kind.
  const last = out[out.length - 1];
  if (o.faults === "both" && last && out.length > 1 && out.every((f) => f.kind === last.kind)) {
    last.kind = last.kind === "kill" ? "freeze" : "kill";
    last.downMs = last.kind === "kill" ? rng.int(300, 3000) : pastLeaseMs(rng, o);
  }
  return out;
}

/** Lock keys of apps/server/src/store/gating.ts, named for the report. */
const LOCK_NAMES: Record<string, string> = { "7301001": "the pending-pass lock", "7301002": "the sweep lock" };

export const PASS_LOCK_NAME = LOCK_NAMES["7301001"]!;

/**
 * Advisory locks held by a replica's control-database sessions (its pool names them "runway <id>"), each
 * with the holding session's state and its last query: which transaction of the replica holds it.
 */
async function heldAdvisoryLocks(control: pg.Pool, replicaId: string): Promise<string[]> {
  const { rows } = await control.query<{ key: string; state: string | null; query: string | null }>(
    `SELECT DISTINCT ((l.classid::bigint << 32) | l.objid::bigint)::text AS key, a.state, a.query
     FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = $1`,
    [`runway ${replicaId}`],
  );
  return rows.map((r) => {
    const query = (r.query ?? "").replace(/\s+/g, " ").trim().slice(0, 80);
    return `${LOCK_NAMES[r.key] ?? `advisory lock ${r.key}`} (${r.state ?? "?"}: ${query})`;
  });
}

/**
 * Carries out the plan until `endAt`. The victim is the planned slot, or the next healthy one when that
 * slot is not up (with `victim: "busiest"`, the healthy replica owning the most RUNNING runs); a fault is
 * skipped rather than leave fewer than one healthy replica. A killed replica is restarted in the
 * background (a restart can take a while on a busy machine; the plan goes on meanwhile).
 * Just before the signal it records the runs the victim owns (for the recovery check). Resolves once every
 * restart it began has finished.
 */
export async function runFaults(
  plan: PlannedFault[],
  replicas: ReplicaSet,
  control: pg.Pool,
  endAt: number,
  events: FaultEvent[],
  log: (line: string) => void,
  world?: FaultWorld,
  pick: ChaosOptions["victim"] = "planned",
  cleanFreeze = false,
): Promise<void> {
  const restarts: Promise<void>[] = [];
  const ownedBy = async (replicaId: string) => {
    const q = () =>
      control.query<{ id: string; lease_epoch: number }>(
        "SELECT id, lease_epoch FROM task_run WHERE status = 'RUNNING' AND owner_replica = $1",
        [replicaId],
      );
    // The harness's own pool may still hold a session a control-database restart ended: one retry.
    const res = await q().catch(() => q());
    return res.rows.map((r) => ({ id: r.id, epoch: r.lease_epoch }));
  };
  for (const f of plan) {
    const wait = Math.min(f.gapMs, endAt - Date.now());
    if (wait > 0) await delay(wait);
    if (Date.now() >= endAt) break;
    if (!REPLICA_FAULTS.has(f.kind)) {
      // The target path of every replica, or a whole PostgreSQL cluster: no victim to pick.
      if (!world) throw new Error(`fault ${f.kind} needs the fault world (proxies, clusters)`);
      const event: FaultEvent = { kind: f.kind, replica: "*", at: Date.now(), endedAt: 0, runs: [] };
      events.push(event);
      if (f.kind.startsWith("restart")) await runRestart(f, world, event, log);
      else await runPathFault(f, 0, world, event, log);
      continue;
    }
    const n = replicas.replicas.length;
    const up = Array.from({ length: n }, (_, i) => (f.slot + i) % n).filter((s) => replicas.replicas[s]!.state === "up");
    let slot = up[0];
    if (pick === "busiest" && up.length > 1) {
      // A self-test that needs the fault to orphan running work picks the replica that owns the most.
      const owned = await Promise.all(up.map(async (s) => (await ownedBy(replicas.replicas[s]!.id)).length));
      slot = up[owned.indexOf(Math.max(...owned))];
    }
    if (slot === undefined || replicas.healthy().length < 2) {
      log(`skipped ${f.kind}: fewer than two healthy replicas`);
      continue;
    }
    const victim = replicas.replicas[slot]!;
    // Only a victim that stops renewing has its runs taken over (invariant 7 checks those).
    const event: FaultEvent = {
      kind: f.kind,
      replica: victim.id,
      at: 0,
      endedAt: 0,
      runs: TAKEOVER_FAULTS.has(f.kind) ? await ownedBy(victim.id) : [],
    };
    if (f.kind === "clock-skew") {
      events.push(event);
      await runClockSkew(f, slot, replicas, event, events, restarts, ownedBy, log);
    } else if (f.kind !== "kill" && f.kind !== "freeze") {
      if (!world) throw new Error(`fault ${f.kind} needs the fault world (proxies, clusters)`);
      events.push(event);
      await runPathFault(f, slot, world, event, log);
    } else if (f.kind === "kill") {
      const killed = replicas.kill(slot);
      event.at = Date.now();
      events.push(event);
      await killed;
      log(`SIGKILL ${victim.id} (owned ${event.runs.length} running); restart in ${f.downMs} ms`);
      restarts.push(
        (async () => {
          await delay(f.downMs);
          const next = await replicas.start(slot);
          event.endedAt = Date.now();
          log(`restarted slot ${slot + 1} as ${next.id} (${((event.endedAt - event.at) / 1000).toFixed(1)} s after the kill)`);
        })().catch((e: Error) => {
          replicas.crashes.push(`slot ${slot + 1} did not restart after the kill of ${victim.id}: ${e.message}`);
        }),
      );
    } else {
      replicas.freeze(slot);
      event.at = Date.now();
      event.heldLocks = await heldAdvisoryLocks(control, victim.id);
      // The invariant-9 self-test needs the other replicas to promote while the victim is frozen. A
      // replica frozen inside a transaction that holds the pending-pass lock with no idle bound keeps it
      // for the whole freeze, and no replica promotes anything until it wakes (docs/reliability.md):
      // such a freeze is undone at once, a few milliseconds in, and tried again.
      for (let retry = 0; cleanFreeze && retry < 20 && event.heldLocks.some((l) => l.startsWith(PASS_LOCK_NAME)); retry++) {
        replicas.thaw(slot);
        log(`SIGSTOP ${victim.id} undone: it held ${event.heldLocks.join(", ")}`);
        await delay(50 + 10 * retry);
        replicas.freeze(slot);
        event.at = Date.now();
        event.heldLocks = await heldAdvisoryLocks(control, victim.id);
      }
      events.push(event);
      const held = event.heldLocks.length ? `; it holds ${event.heldLocks.join(", ")}` : "";
      log(`SIGSTOP ${victim.id} (owned ${event.runs.length} running${held}) for ${f.downMs} ms`);
      await delay(f.downMs);
      replicas.thaw(slot);
      event.endedAt = Date.now();
      log(`SIGCONT ${victim.id}`);
    }
  }
  await Promise.all(restarts);
}
