import type { ChaosOptions } from "./options.js";
import type { Rng } from "./rng.js";
import { statementFor, type StatementKind } from "./statements.js";

/**
 * The workload, derived from the seed alone: projects with different parallel limits, rollouts with
 * stages of tasks over the target databases, versioned schema changes whose versions are shuffled across
 * rollouts (so the version-order gate holds runs), data updates, deliberate failures, cancel targets
 * (long data updates canceled while RUNNING), statements that cannot run in a transaction, database
 * creations, and tasks scheduled a few seconds ahead.
 */
export type TaskKind = Exclude<StatementKind, "create" | "ballast">;

export const TaskTypeOf: Record<StatementKind, string> = {
  schema: "DATABASE_SCHEMA_UPDATE",
  sdl: "DATABASE_SDL",
  data: "DATABASE_DATA_UPDATE",
  fail: "DATABASE_DATA_UPDATE",
  cancel: "DATABASE_DATA_UPDATE",
  nontx: "DATABASE_DATA_UPDATE",
  cic: "DATABASE_SCHEMA_UPDATE",
  create: "DATABASE_CREATE",
  ballast: "DATABASE_DATA_UPDATE",
};

export const SEQUENTIAL_TYPES = new Set(["DATABASE_CREATE", "DATABASE_SCHEMA_UPDATE", "DATABASE_SDL"]);

export interface PlannedTask {
  /** Unique marker, embedded in the statement and in the journal. */
  key: string;
  kind: StatementKind;
  type: string;
  database: string;
  schemaVersion: string | null;
  statement: string;
  /** Submitted with runAt = submission + this delay. */
  scheduleDelayMs: number | null;
  rollout: number;
  /** A step of a run-at ladder: the harness cancels it if it is still PENDING after the ladder's burst. */
  ladder?: boolean;
}

export interface PlannedRollout {
  index: number;
  projectId: string;
  title: string;
  stages: { environment: string; tasks: PlannedTask[] }[];
  /** When (ms after the start of the fault window) its tasks are submitted to run. */
  submitAtMs: number;
  /**
   * A run-at ladder (see planLadders): each task runs at this time (ms after the start of the window)
   * plus its `scheduleDelayMs`, and the tasks are submitted one call each, latest run-at first.
   */
  ladderAtMs?: number;
}

export interface Workload {
  projects: { id: string; limit: number }[];
  databases: string[];
  rollouts: PlannedRollout[];
  tasks: PlannedTask[];
}

const pad = (n: number, w: number) => String(n).padStart(w, "0");

/** Ballast runs wait this long (far beyond any run), then are canceled. */
export const BALLAST_DELAY_MS = 3_600_000;

export function planWorkload(rng: Rng, o: ChaosOptions): Workload {
  const databases = Array.from({ length: o.databases }, (_, i) => `chaos_db_${pad(i, 2)}`);
  const projects = o.limits.map((limit, i) => ({ id: `chaos-p${i}`, limit }));
  if (o.ladders) return planLadders(rng, o, databases, projects);
  if (o.chains) return planChains(rng, o, databases, projects);
  const nRollouts = Math.max(projects.length, Math.round((o.tasks * o.rolloutsPer100) / 100));
  const mix = Object.entries(o.mix).filter(([, w]) => w > 0) as [TaskKind, number][];
  const submitSpan = o.durationS * 1000 * o.submitSpread;

  const tasks: PlannedTask[] = [];
  const rollouts: PlannedRollout[] = [];
  let seq = 0;
  for (let r = 0; r < nRollouts; r++) {
    const size = Math.max(1, Math.round((o.tasks / nRollouts) * (0.6 + rng.int(0, 80) / 100)));
    const own: PlannedTask[] = [];
    const make = (kind: StatementKind, database: string): PlannedTask => {
      const key = `t${pad(seq++, 5)}`;
      // A slow schema change outlasts a lease: a takeover in its middle finds its session still running
      // (invariant 9). Drawn only when asked for, so other presets keep their seeded workloads.
      const slow = kind === "schema" && o.slowShare > 0 && rng.chance(o.slowShare);
      const sleepMs =
        kind === "cic"
          ? rng.int(o.cicSleepMs[0], o.cicSleepMs[1])
          : kind === "cancel" || slow
            ? rng.int(4000, 6000)
            : rng.int(o.sleepMs[0], o.sleepMs[1]);
      const scheduled = kind !== "cancel" && rng.chance(0.06);
      return {
        key,
        kind,
        type: TaskTypeOf[kind],
        database,
        schemaVersion: null,
        statement: statementFor(kind, key, sleepMs),
        scheduleDelayMs: scheduled ? rng.int(2000, 8000) : null,
        rollout: r,
      };
    };
    // A database that does not exist yet, created by the rollout itself (now and then).
    if (!o.testBreak && rng.chance(0.5)) own.push(make("create", `chaos_new_${pad(r, 3)}`));
    for (let i = 0; i < size; i++) own.push(make(rng.weighted(mix), rng.pick(databases)));
    const nStages = rng.int(1, 3);
    const envs = ["staging", "prod", "dr"];
    const stages = envs.slice(0, nStages).map((environment) => ({ environment, tasks: [] as PlannedTask[] }));
    own.forEach((t, i) => stages[Math.min(nStages - 1, Math.floor((i * nStages) / own.length))]!.tasks.push(t));
    rollouts.push({
      index: r,
      projectId: projects[r % projects.length]!.id,
      title: `chaos rollout ${r}`,
      stages,
      submitAtMs: r === 0 ? 0 : rng.int(0, Math.round(submitSpan)),
    });
    tasks.push(...own);
  }
  if (o.ballast > 0) {
    const r = rollouts.length;
    projects.push({ id: "chaos-ballast", limit: 0 });
    const own = Array.from({ length: o.ballast }, (_, i): PlannedTask => {
      const key = `b${pad(i, 5)}`;
      return {
        key,
        kind: "ballast",
        type: TaskTypeOf.ballast,
        database: databases[i % databases.length]!,
        schemaVersion: null,
        statement: statementFor("ballast", key, 0),
        scheduleDelayMs: BALLAST_DELAY_MS,
        rollout: r,
      };
    });
    rollouts.push({
      index: r,
      projectId: "chaos-ballast",
      title: "chaos ballast",
      stages: [{ environment: "later", tasks: own }],
      submitAtMs: 0,
    });
    tasks.push(...own);
  }
  assignVersions(rng, databases, tasks, o.versionedShare);
  return { projects, databases, rollouts, tasks };
}

/**
 * Run-at ladders, the workload of the break-lock self-test. Each ladder is a rollout of sequential,
 * unversioned schema changes on one database, in a project with a parallel limit (1): one task per
 * offset, to run at the ladder's time plus that offset. The tasks are submitted latest run-at first, so
 * the pending scheduler's FIFO order (creation) is the reverse of the run-at order: a pass promotes the
 * latest run that is due at its own `now`, and holds the others (DATABASE_BUSY).
 *
 * Every replica's pending loop wakes at the ladder's first run-at (it learned that time from its last
 * pass), and the passes find nothing to take from the change tables. With the advisory lock, one pass
 * promotes one run and the others skip. Without it, the passes overlap, each with its own `now`, a few
 * milliseconds apart: two of them that pick different runs both promote, and the two statements run side
 * by side. The offsets are dense where the replicas' wake-ups fall. Ladders come due one after the other,
 * each a fresh chance; the harness cancels what is still PENDING of a ladder shortly after its burst
 * (`cancelAfterMs`), so the next one comes due on a quiet system.
 */
function planLadders(rng: Rng, o: ChaosOptions, databases: string[], projects: Workload["projects"]): Workload {
  const l = o.ladders!;
  const mix = Object.entries(o.mix).filter(([k, w]) => w > 0 && (k === "schema" || k === "sdl")) as [TaskKind, number][];
  if (mix.length === 0) throw new Error("ladders need schema or sdl tasks in the mix");
  const tasks: PlannedTask[] = [];
  const rollouts: PlannedRollout[] = [];
  let seq = 0;
  for (let r = 0; r < l.count; r++) {
    const database = databases[r % databases.length]!;
    const own = l.offsetsMs.map((offset): PlannedTask => {
      const key = `t${pad(seq++, 5)}`;
      const kind = rng.weighted(mix);
      return {
        key,
        kind,
        type: TaskTypeOf[kind],
        database,
        schemaVersion: null,
        statement: statementFor(kind, key, rng.int(o.sleepMs[0], o.sleepMs[1])),
        scheduleDelayMs: offset,
        rollout: r,
        ladder: true,
      };
    });
    rollouts.push({
      index: r,
      projectId: projects[r % projects.length]!.id,
      title: `chaos ladder ${r}`,
      stages: [{ environment: "prod", tasks: own }],
      submitAtMs: 0,
      ladderAtMs: l.firstAtMs + r * l.gapMs,
    });
    tasks.push(...own);
  }
  return { projects, databases, rollouts, tasks };
}

/**
 * Index-build chains, the workload of the break-gate self-test: one rollout of one stage, in a project
 * without a parallel limit, holding on every database `rounds` times an index build (CREATE INDEX
 * CONCURRENTLY, `cicSleepMs`, never re-run) followed by a short unversioned schema change. The pending
 * scheduler promotes a database's sequential runs first come, first served, so each schema change waits
 * for the index build before it (DATABASE_BUSY) and is promoted as soon as that build's run ends: when
 * a sweeper ends it while its session still builds, the schema change begins beside it, and its
 * chaos_begin sees it (invariant 9). Not a random mix, because the next change after an orphaned build
 * must be a transactional one: a second index build cannot begin beside the first (it waits for the
 * first one's ShareUpdateExclusiveLock, or they deadlock), and it never journals.
 */
function planChains(rng: Rng, o: ChaosOptions, databases: string[], projects: Workload["projects"]): Workload {
  const tasks: PlannedTask[] = [];
  let seq = 0;
  const make = (kind: "cic" | "schema", database: string, sleepMs: number): PlannedTask => {
    const key = `t${pad(seq++, 5)}`;
    return {
      key,
      kind,
      type: TaskTypeOf[kind],
      database,
      schemaVersion: null,
      statement: statementFor(kind, key, sleepMs),
      scheduleDelayMs: null,
      rollout: 0,
    };
  };
  for (let round = 0; round < o.chains!.rounds; round++) {
    for (const db of databases) {
      tasks.push(make("cic", db, rng.int(o.cicSleepMs[0], o.cicSleepMs[1])));
      tasks.push(make("schema", db, rng.int(o.sleepMs[0], o.sleepMs[1])));
    }
  }
  const rollout: PlannedRollout = {
    index: 0,
    projectId: projects[0]!.id,
    title: "chaos index-build chains",
    stages: [{ environment: "prod", tasks }],
    submitAtMs: 0,
  };
  return { projects, databases, rollouts: [rollout], tasks };
}

/**
 * Most schema changes carry a version. Per database the versions are a random permutation over the
 * tasks, so a rollout submitted early often holds a higher version than one submitted later. Half the
 * databases use dotted versions ("1.9" < "1.10" only when parts compare as numbers).
 */
function assignVersions(rng: Rng, databases: string[], tasks: PlannedTask[], share: number): void {
  for (const db of databases) {
    const dotted = rng.chance(0.5);
    const versioned = tasks.filter((t) => t.database === db && (t.kind === "schema" || t.kind === "sdl") && rng.chance(share));
    rng.shuffle(versioned).forEach((t, i) => {
      t.schemaVersion = dotted ? `1.${i + 1}` : pad(i + 1, 4);
    });
  }
}

/** Compares versions part by part, numerically where both parts are numbers (independent of the server's). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[._-]/);
  const pb = b.split(/[._-]/);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    const c = nx && ny ? Math.sign(Number(BigInt(x) - BigInt(y))) : x < y ? -1 : x > y ? 1 : 0;
    if (c !== 0) return c;
  }
  return Math.sign(pa.length - pb.length);
}
