import { setTimeout as delay } from "node:timers/promises";
import type { Clusters } from "./clusters.js";
import type { FaultEvent } from "./facts.js";
import type { PlannedFault } from "./fault-kinds.js";
import type { FaultProxy } from "./fault-proxy.js";
import type { ReplicaSet } from "./replicas.js";

/** What the network, PostgreSQL and clock faults act on. */
export interface FaultWorld {
  clusters: Clusters;
  /** Slot i's path to the control database. */
  controlProxies: FaultProxy[];
  /** Every replica's path to the target cluster. */
  targetProxy: FaultProxy;
}

/** Every proxy back to normal (the end of the fault window); severed connections stay dead. */
export function healNetwork(world: FaultWorld): void {
  for (const p of [...world.controlProxies, world.targetProxy]) p.heal();
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * A network fault on one path for `downMs`, then healed: the control path of `slot`, or the target path
 * of every replica. Fills in `event` (at, endedAt, detail).
 */
export async function runPathFault(
  f: PlannedFault,
  slot: number,
  world: FaultWorld,
  event: FaultEvent,
  log: (line: string) => void,
): Promise<void> {
  const target = f.kind.endsWith("-target");
  const proxy = target ? world.targetProxy : world.controlProxies[slot]!;
  const path = target ? "every replica ↔ targets" : `${event.replica} ↔ control database`;
  if (f.kind.startsWith("blackhole")) proxy.blackhole();
  else if (f.kind.startsWith("reset")) proxy.reset();
  else proxy.latency(f.latencyMs ?? 100);
  event.at = Date.now();
  const what = f.kind.startsWith("latency")
    ? `+${f.latencyMs} ms latency`
    : f.kind.startsWith("reset")
      ? "connections reset"
      : "black hole";
  log(`${what} on ${path}${event.runs.length ? ` (it owned ${event.runs.length} running)` : ""} for ${secs(f.downMs)}`);
  await delay(f.downMs);
  proxy.heal({ sever: f.sever });
  event.endedAt = Date.now();
  event.detail = f.kind.startsWith("blackhole")
    ? f.sever
      ? "severed"
      : "resumed"
    : f.kind.startsWith("latency")
      ? `${f.latencyMs} ms`
      : undefined;
  log(`healed ${path}${event.detail ? ` (${event.detail})` : ""}`);
}

/** Fast shutdown of the control or the target cluster, `downMs` down, then started again on its port. */
export async function runRestart(f: PlannedFault, world: FaultWorld, event: FaultEvent, log: (line: string) => void): Promise<void> {
  const cluster = f.kind === "restart-control" ? world.clusters.control : world.clusters.target;
  event.at = Date.now();
  log(`fast shutdown of the ${cluster.name} PostgreSQL, ${secs(f.downMs)} down`);
  await cluster.restart(f.downMs);
  event.endedAt = Date.now();
  log(`${cluster.name} PostgreSQL back after ${secs(event.endedAt - event.at)}`);
}

/**
 * Clock skew: SIGKILL the victim and start its slot again with its process clock `offsetMs` off; after
 * `downMs`, SIGKILL the skewed process and start the slot with a right clock (in the background, like a
 * kill's restart; pushed to `restarts`). The second kill is recorded as its own event (`partOf`), so the
 * recovery check covers the runs the skewed replica owned then.
 */
export async function runClockSkew(
  f: PlannedFault,
  slot: number,
  replicas: ReplicaSet,
  event: FaultEvent,
  events: FaultEvent[],
  restarts: Promise<void>[],
  owned: (replicaId: string) => Promise<FaultEvent["runs"]>,
  log: (line: string) => void,
): Promise<void> {
  const offset = f.offsetMs ?? 0;
  const killed = replicas.kill(slot);
  event.at = Date.now();
  await killed;
  event.detail = `${offset > 0 ? "+" : ""}${Math.round(offset / 1000)} s`;
  // The slot's Replica object is reused by its next generation: keep this one's id.
  const skewedId = (await replicas.start(slot, { clockOffsetMs: offset })).id;
  log(`SIGKILL ${event.replica}, restarted as ${skewedId} with its clock ${event.detail} off, for ${secs(f.downMs)}`);
  await delay(f.downMs);
  const r = replicas.replicas[slot]!;
  if (r.state !== "up" || r.id !== skewedId) {
    event.endedAt = Date.now();
    return;
  }
  const end: FaultEvent = {
    kind: "kill",
    partOf: "clock-skew",
    replica: skewedId,
    at: 0,
    endedAt: 0,
    runs: await owned(skewedId).catch(() => []),
  };
  const again = replicas.kill(slot);
  end.at = Date.now();
  event.endedAt = end.at;
  events.push(end);
  await again;
  restarts.push(
    (async () => {
      await delay(500);
      const next = await replicas.start(slot);
      end.endedAt = Date.now();
      log(`clock skew over: ${skewedId} killed, slot ${slot + 1} restarted as ${next.id} with a right clock`);
    })().catch((e: Error) => {
      replicas.crashes.push(`slot ${slot + 1} did not restart after the clock skew of ${skewedId}: ${e.message}`);
    }),
  );
}
