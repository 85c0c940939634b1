import type { ChaosOptions } from "./options.js";
import type { Rng } from "./rng.js";

/**
 * Every kind of fault the harness injects. `-control` and `-target` name the network path: a replica's
 * path to the control database (one replica at a time), or every replica's path to the target cluster.
 */
export const FAULT_KINDS = [
  "kill",
  "freeze",
  "blackhole-control",
  "blackhole-target",
  "reset-control",
  "reset-target",
  "latency-control",
  "latency-target",
  "restart-control",
  "restart-target",
  "clock-skew",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Names usable in --faults besides the kinds themselves; a group draws one of its members per fault. */
const GROUPS: Record<string, FaultKind[]> = {
  blackhole: ["blackhole-control", "blackhole-target"],
  reset: ["reset-control", "reset-target"],
  latency: ["latency-control", "latency-target"],
  restart: ["restart-control", "restart-target"],
  network: ["blackhole-control", "blackhole-target", "reset-control", "reset-target", "latency-control", "latency-target"],
};

/** Kinds that pick one replica as their victim (and leave it unhealthy for a while). */
export const REPLICA_FAULTS = new Set<FaultKind>(["kill", "freeze", "blackhole-control", "reset-control", "latency-control", "clock-skew"]);

/** Kinds whose victim's runs must be taken over (checked by invariant 7): the victim stops renewing. */
export const TAKEOVER_FAULTS = new Set<FaultKind>(["kill", "freeze", "blackhole-control", "clock-skew"]);

/**
 * Parses --faults: `none`, `both` (kill and freeze, the original plan), `all` (every kind), or a comma
 * list of kinds and groups. Returns the entries a plan draws from, each a list of kinds.
 */
export function parseFaultSpec(spec: string): FaultKind[][] {
  if (spec === "none") return [];
  if (spec === "all") return FAULT_KINDS.map((k) => [k]);
  if (spec === "both") return [["kill"], ["freeze"]];
  return spec.split(",").map((name) => {
    const n = name.trim();
    if ((FAULT_KINDS as readonly string[]).includes(n)) return [n as FaultKind];
    const g = GROUPS[n];
    if (!g)
      throw new Error(
        `unknown fault kind "${n}" (kinds: ${FAULT_KINDS.join(", ")}; groups: ${Object.keys(GROUPS).join(", ")}; or all, both, none)`,
      );
    return g;
  });
}

/** Whether a spec can draw a network fault (the replicas then reach PostgreSQL through the proxies). */
export const usesProxies = (spec: string): boolean =>
  parseFaultSpec(spec)
    .flat()
    .some((k) => k.startsWith("blackhole") || k.startsWith("reset") || k.startsWith("latency"));

/** Whether a spec can draw a PostgreSQL restart (targets then live in their own cluster). */
export const usesRestarts = (spec: string): boolean =>
  parseFaultSpec(spec)
    .flat()
    .some((k) => k.startsWith("restart"));

/** The original specs (kill and freeze only) keep their original, seed-compatible plan. */
export const isLegacySpec = (spec: string) => spec === "both" || spec === "kill" || spec === "freeze" || spec === "none";

/** One planned fault: after `gapMs`, the fault, lasting `downMs`. */
export interface PlannedFault {
  kind: FaultKind;
  slot: number;
  gapMs: number;
  /** kill: until the restart; freeze, black hole, reset, latency: until healed; restart: PostgreSQL down; clock-skew: how long the skewed process runs. */
  downMs: number;
  /** Black hole: the held connections stay dead at the end instead of resuming. */
  sever?: boolean;
  latencyMs?: number;
  /** clock-skew: the process clock's offset. */
  offsetMs?: number;
}

/** How long a freeze or a control black hole lasts: past the lease and a sweep, so its runs are taken over. */
export const pastLeaseMs = (rng: Rng, o: ChaosOptions): number =>
  o.leaseTtlMs + o.sweepMs + rng.int(o.pastLeaseMs?.[0] ?? 1000, o.pastLeaseMs?.[1] ?? 3000);

/** Draws the parameters of one fault of `kind` (seeded). */
export function drawFault(rng: Rng, kind: FaultKind, o: ChaosOptions): PlannedFault {
  const gapMs = Math.round(o.faultGapMs * (0.5 + rng.int(0, 100) / 100));
  const slot = rng.int(0, o.replicas - 1);
  const pastLease = () => pastLeaseMs(rng, o);
  switch (kind) {
    case "kill":
      return { kind, slot, gapMs, downMs: rng.int(300, 3000) };
    case "freeze":
      return { kind, slot, gapMs, downMs: pastLease() };
    case "blackhole-control":
      // Past the lease, so the replica's runs are taken over while it cannot hear about it.
      return { kind, slot, gapMs, downMs: pastLease(), sever: rng.chance(0.5) };
    case "blackhole-target":
      return { kind, slot, gapMs, downMs: rng.int(3000, 12_000), sever: rng.chance(0.5) };
    case "reset-control":
    case "reset-target":
      return { kind, slot, gapMs, downMs: rng.int(300, 3000) };
    case "latency-control":
    case "latency-target":
      return { kind, slot, gapMs, downMs: rng.int(4000, 12_000), latencyMs: rng.int(50, 400) };
    case "restart-control":
    case "restart-target":
      return { kind, slot, gapMs, downMs: rng.int(300, 3000) };
    case "clock-skew":
      return { kind, slot, gapMs, downMs: rng.int(15_000, 30_000), offsetMs: (rng.chance(0.5) ? 1 : -1) * rng.int(2, 10) * 60_000 };
  }
}

/**
 * A plan over several kinds: first each entry of the spec once, in a seeded order (so a short run has
 * every kind asked for, if the window has room), then seeded draws until the duration is filled.
 */
export function planMixedFaults(rng: Rng, o: ChaosOptions, entries: FaultKind[][]): PlannedFault[] {
  if (entries.length === 0) return [];
  const first = rng.shuffle(entries);
  const out: PlannedFault[] = [];
  let t = 0;
  for (let i = 0; i < first.length || t < o.durationS * 1000; i++) {
    const entry = i < first.length ? first[i]! : rng.pick(entries);
    const f = drawFault(rng, rng.pick(entry), o);
    out.push(f);
    // A kill's restart runs in the background; the plan goes on at once.
    t += f.gapMs + (f.kind === "kill" ? 0 : f.downMs);
  }
  return out;
}
