import { parseArgs } from "node:util";
import type { TaskKind } from "./workload.js";

/** Everything a chaos run depends on. The workload and the fault plan follow from `seed` alone. */
export interface ChaosOptions {
  replicas: number;
  /** How long faults are injected and work is submitted, in seconds. */
  durationS: number;
  seed: number;
  /** Approximate number of tasks, and the target databases they spread over. */
  tasks: number;
  databases: number;
  /** Rollouts per 100 tasks (more rollouts: more parallel-limit gates at work; fewer: bigger rollouts). */
  rolloutsPer100: number;
  /** Rollouts are submitted over this fraction of the duration (0: all at the start). */
  submitSpread: number;
  /** Sleep inside each statement, milliseconds (uniform in [min, max]). */
  sleepMs: [number, number];
  /** Per-replica executor slots. */
  concurrency: number;
  leaseTtlMs: number;
  heartbeatMs: number;
  sweepMs: number;
  pollMs: number;
  fullPassMs: number;
  /** Mean gap between two faults, milliseconds; which faults: kills, freezes or both. */
  faultGapMs: number;
  faults: "both" | "kill" | "freeze" | "none";
  /**
   * Ballast: this many extra PENDING runs scheduled an hour ahead (canceled when the fault window ends).
   * They make every full pending pass read a large backlog, as a busy installation's would.
   */
  ballast: number;
  /** Share of schema changes that carry a version. */
  versionedShare: number;
  /** Relative weights of the kinds of task (see workload.ts). */
  mix: Record<TaskKind, number>;
  /** Parallel limits of the projects (0 = none); one project per entry. */
  limits: number[];
  /** Deliberately broken build (NODE_ENV=test RUNWAY_TEST_BREAK=…): the self-test expects violations. */
  testBreak?: "lock" | "fencing";
  /** Give up waiting for quiescence after this long, milliseconds. */
  quiesceTimeoutMs: number;
  /** Where the report JSON and replica logs go (default: a new dir under the OS temp dir). */
  outDir?: string;
  quiet: boolean;
}

const base: ChaosOptions = {
  replicas: 3,
  durationS: 60,
  seed: 1,
  tasks: 300,
  databases: 12,
  rolloutsPer100: 2,
  submitSpread: 0.6,
  sleepMs: [40, 300],
  concurrency: 6,
  leaseTtlMs: 3000,
  heartbeatMs: 800,
  sweepMs: 700,
  pollMs: 500,
  fullPassMs: 300_000,
  faultGapMs: 7000,
  faults: "both",
  limits: [1, 2, 4, 0],
  mix: { schema: 30, sdl: 8, data: 40, fail: 4, cancel: 4, nontx: 3 },
  ballast: 0,
  versionedShare: 0.8,
  quiesceTimeoutMs: 120_000,
  quiet: false,
};

/** Named starting points; flags given on the command line override them. */
export const PRESETS: Record<string, Partial<ChaosOptions>> = {
  // The CI run: ≤ 2 minutes with 3 replicas on a 2-core machine.
  short: { replicas: 3, durationS: 40, tasks: 300, databases: 12, sleepMs: [100, 800], quiesceTimeoutMs: 60_000 },
  // The documented run (docs/reliability.md): ≥ 10 minutes with 5 replicas.
  long: { replicas: 5, durationS: 600, tasks: 3000, databases: 40, rolloutsPer100: 0.5, submitSpread: 0.8, sleepMs: [100, 800], leaseTtlMs: 5000, heartbeatMs: 1500, sweepMs: 1000, faultGapMs: 12_000, quiesceTimeoutMs: 300_000 },
  // Self-test: promotion without the advisory lock. Short sequential runs on few databases and limit-1
  // rollouts; a full pass every second over a large backlog (ballast). Without the lock, a full pass that
  // found nothing to take from the change tables overlaps the live passes of other replicas, and they
  // promote from different snapshots.
  "break-lock": {
    testBreak: "lock", replicas: 4, durationS: 25, tasks: 300, databases: 3, rolloutsPer100: 4, submitSpread: 0.3,
    sleepMs: [50, 250], limits: [1, 1, 1, 2], mix: { schema: 50, sdl: 30, data: 20, fail: 0, cancel: 0, nontx: 0 },
    versionedShare: 0.5, ballast: 2000, pollMs: 100, fullPassMs: 1000, faults: "none", quiesceTimeoutMs: 30_000,
  },
  // Self-test: owner writes without the lease fence. Long statements, freezes longer than the lease:
  // a frozen owner wakes up mid-transaction after its run was taken over and commits anyway.
  "break-fencing": {
    testBreak: "fencing", replicas: 3, durationS: 25, tasks: 120, databases: 12, sleepMs: [1500, 3000],
    limits: [0], mix: { schema: 20, sdl: 0, data: 80, fail: 0, cancel: 0, nontx: 0 }, leaseTtlMs: 2000, heartbeatMs: 500, sweepMs: 400, faults: "freeze", faultGapMs: 4000, quiesceTimeoutMs: 60_000,
  },
};

const HELP = `pnpm chaos [options]
  --preset NAME        short (default) | long | break-lock | break-fencing
  --replicas N         server processes (default 3)
  --duration S         seconds of faults and submissions
  --seed N             reproduces the workload and the fault plan (default: random, printed)
  --tasks N            approximate number of tasks
  --databases N        target databases
  --concurrency N      executor slots per replica
  --lease-ms N --heartbeat-ms N --sweep-ms N --poll-ms N
  --faults KIND        both | kill | freeze | none
  --fault-gap-ms N     mean gap between faults
  --out DIR            report and replica logs (default: a temp dir)
  --quiet              only the final table`;

export function parseOptions(argv: string[]): ChaosOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      preset: { type: "string" }, replicas: { type: "string" }, duration: { type: "string" }, seed: { type: "string" },
      tasks: { type: "string" }, databases: { type: "string" }, concurrency: { type: "string" },
      "lease-ms": { type: "string" }, "heartbeat-ms": { type: "string" }, "sweep-ms": { type: "string" },
      "poll-ms": { type: "string" }, faults: { type: "string" }, "fault-gap-ms": { type: "string" },
      out: { type: "string" }, quiet: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
    allowPositionals: false,
  });
  if (values.help) return "help";
  const preset = values.preset ?? "short";
  if (!PRESETS[preset]) throw new Error(`unknown preset "${preset}" (${Object.keys(PRESETS).join(", ")})`);
  const o: ChaosOptions = { ...base, ...PRESETS[preset], seed: Math.floor(Math.random() * 2 ** 31) };
  const num = (v: string | undefined, name: string, min: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got "${v}"`);
    return n;
  };
  const set = <K extends keyof ChaosOptions>(k: K, v: ChaosOptions[K] | undefined) => {
    if (v !== undefined) o[k] = v;
  };
  set("replicas", num(values.replicas, "replicas", 1));
  set("durationS", num(values.duration, "duration", 1));
  set("seed", num(values.seed, "seed", 0));
  set("tasks", num(values.tasks, "tasks", 10));
  set("databases", num(values.databases, "databases", 1));
  set("concurrency", num(values.concurrency, "concurrency", 1));
  set("leaseTtlMs", num(values["lease-ms"], "lease-ms", 100));
  set("heartbeatMs", num(values["heartbeat-ms"], "heartbeat-ms", 10));
  set("sweepMs", num(values["sweep-ms"], "sweep-ms", 10));
  set("pollMs", num(values["poll-ms"], "poll-ms", 10));
  set("faultGapMs", num(values["fault-gap-ms"], "fault-gap-ms", 100));
  if (values.faults !== undefined) {
    if (!["both", "kill", "freeze", "none"].includes(values.faults)) throw new Error(`--faults must be both, kill, freeze or none`);
    o.faults = values.faults as ChaosOptions["faults"];
  }
  if (o.replicas < 2 && o.faults !== "none") throw new Error("faults need at least 2 replicas (one must stay healthy)");
  set("outDir", values.out);
  o.quiet = values.quiet ?? false;
  return o;
}

export { HELP };

/** The recovery-time bound of invariant 7: lease TTL + sweep interval + 2 s. */
export const recoveryBoundMs = (o: ChaosOptions): number => o.leaseTtlMs + o.sweepMs + 2000;
