import type { TaskType } from "@runway/shared";
import { MAX_STAGES } from "@runway/shared/schemas";
import type { TargetReader } from "../executors/target-reader.js";
import { resolveGroup } from "../domain/group-resolution.js";
import { planDatabase } from "../domain/pending.js";
import { releaseHash, sha256 } from "../domain/release-files.js";
import type { Clock } from "../scheduler/clock.js";
import type { Db } from "../store/db.js";
import { refreshInstanceDatabases } from "./instance-listing.js";
import { databaseGroupGet } from "../store/database-groups.js";
import { StoreError } from "../store/errors.js";
import { instanceDatabasesGet } from "../store/instance-databases.js";
import { instanceGet } from "../store/instances.js";
import type { ReleaseWithFiles } from "../store/releases.js";
import type { NewRollout } from "../store/rollouts.js";
import { planLedgers, type LedgerFreshness } from "./ledgers.js";

/**
 * From a release and stages of targets (database groups or single databases) to a plan: which files each
 * database still needs, read from its ledger. The preview shows the plan; creating a rollout builds the
 * tasks from it and hands them to the rollout creation path every rollout takes (store/rollouts.ts).
 */

/** A release rollout may hold many more tasks than a hand-written JSON body (50 files × 1,000 tenants). */
export const MAX_RELEASE_ROLLOUT_TASKS = 100_000;

export type StageTarget = { group: string } | { instanceId: string; database: string };
export interface StageInput {
  environment: string;
  targets: StageTarget[];
}

export interface PlannedDatabase {
  instanceId: string;
  database: string;
  /** File names to apply, in order. */
  pending: string[];
  applied: number;
  /** Versioned files applied there with other content: flagged, left out. */
  changed: string[];
  /** The ledger could not be read: nothing is known about this database. */
  error?: string;
  /** When the ledger planned from was read on the target (a snapshot's age shows here). */
  readAt?: string;
}

export interface PlannedStage {
  environment: string;
  groups: { name: string; instanceId: string; databases: number; missing: string[] }[];
  databases: PlannedDatabase[];
  tasks: number;
}

export interface ReleasePlan {
  releaseId: string;
  stages: PlannedStage[];
  totals: { databases: number; tasks: number; applied: number; changed: number; unreadable: number };
  /** Where the ledgers came from: read now, or the control database's snapshots (and the oldest's time). */
  ledgers: { readNow: number; fromSnapshot: number; oldestReadAt: string | null };
}

/** Refuses a release whose stored files no longer hash to what was stored (it is immutable by contract). */
export function verifyReleaseHash(release: ReleaseWithFiles): void {
  const bad = release.files.find((f) => sha256(f.statement) !== f.sha256);
  if (bad || releaseHash(release.files) !== release.contentHash)
    throw new StoreError(
      "FAILED_PRECONDITION",
      `release ${release.id} does not match its content hash${bad ? ` (file ${bad.name})` : ""}`,
      {
        reason: "RELEASE_CORRUPT",
      },
    );
}

interface Resolved {
  environment: string;
  groups: PlannedStage["groups"];
  targets: { instanceId: string; database: string }[];
}

/**
 * Groups resolve against a fresh listing of their instance (one cheap query each), so a tenant database
 * created a minute ago is in the rollout; when the instance cannot be listed now, the stored list is used.
 */
async function resolveStages(deps: PlanDeps, projectId: string, stages: StageInput[]): Promise<Resolved[]> {
  const { db } = deps;
  if (stages.length > MAX_STAGES) throw new StoreError("INVALID_ARGUMENT", `at most ${MAX_STAGES} stages`);
  const known = new Map<string, Promise<string[]>>();
  const namesOn = (instanceId: string) => {
    let p = known.get(instanceId);
    if (!p) {
      p = (async () => {
        const inst = await instanceGet(db, instanceId);
        if (inst) await refreshInstanceDatabases(deps, inst);
        return (await instanceDatabasesGet(db, instanceId)).databases;
      })();
      known.set(instanceId, p);
    }
    return p;
  };
  return Promise.all(
    stages.map(async (s, i) => {
      const groups: PlannedStage["groups"] = [];
      const seen = new Set<string>();
      const targets: Resolved["targets"] = [];
      const add = (instanceId: string, database: string) => {
        const key = `${instanceId}\0${database}`;
        if (seen.has(key)) return;
        seen.add(key);
        targets.push({ instanceId, database });
      };
      for (const t of s.targets) {
        if ("group" in t) {
          const g = await databaseGroupGet(db, { projectId, name: t.group });
          if (!g) throw new StoreError("NOT_FOUND", `stages/${i}: database group "${t.group}" not found in project "${projectId}"`);
          const r = resolveGroup(g, await namesOn(g.instanceId));
          groups.push({ name: g.name, instanceId: g.instanceId, databases: r.databases.length, missing: r.missing });
          for (const d of r.databases) add(g.instanceId, d);
        } else add(t.instanceId, t.database);
      }
      return { environment: s.environment, groups, targets };
    }),
  );
}

export interface PlanDeps {
  db: Db;
  reader: TargetReader;
  clock: Clock;
}

/**
 * Resolves the stages, takes every distinct target's ledger (its snapshot, or a read of the target with
 * bounded parallelism, as `freshness` says) and plans each database.
 */
export async function planRelease(
  deps: PlanDeps,
  p: { projectId: string; release: ReleaseWithFiles; stages: StageInput[]; freshness: LedgerFreshness },
): Promise<ReleasePlan> {
  verifyReleaseHash(p.release);
  const resolved = await resolveStages(deps, p.projectId, p.stages);
  const instanceIds = [...new Set(resolved.flatMap((s) => s.targets.map((t) => t.instanceId)))];
  const urls = new Map<string, string>();
  for (const id of instanceIds) {
    const inst = await instanceGet(deps.db, id);
    if (!inst) throw new StoreError("NOT_FOUND", `instance "${id}" not found`);
    urls.set(id, inst.connectionUrl);
  }
  const distinct = [...new Map(resolved.flatMap((s) => s.targets).map((t) => [`${t.instanceId}\0${t.database}`, t])).values()];
  const ledgers = await planLedgers(
    deps,
    distinct.map((t) => ({ ...t, connectionUrl: urls.get(t.instanceId)! })),
    p.freshness,
  );
  const totals = { databases: 0, tasks: 0, applied: 0, changed: 0, unreadable: 0 };
  const sources = { readNow: 0, fromSnapshot: 0, oldestReadAt: null as Date | null };
  for (const l of ledgers.values()) {
    if ("error" in l) continue;
    if (l.fromSnapshot) sources.fromSnapshot++;
    else sources.readNow++;
    if (!sources.oldestReadAt || l.readAt < sources.oldestReadAt) sources.oldestReadAt = l.readAt;
  }

  const stages = resolved.map((s): PlannedStage => {
    const databases = s.targets.map((t): PlannedDatabase => {
      const read = ledgers.get(`${t.instanceId}\0${t.database}`)!;
      if ("error" in read) return { ...t, pending: [], applied: 0, changed: [], error: read.error };
      const plan = planDatabase(p.release.files, read.rows);
      return {
        ...t,
        pending: plan.pending.map((f) => f.name),
        applied: plan.applied.length,
        changed: plan.changed,
        readAt: read.readAt.toISOString(),
      };
    });
    const tasks = databases.reduce((n, d) => n + d.pending.length, 0);
    totals.databases += databases.length;
    totals.tasks += tasks;
    for (const d of databases) {
      totals.applied += d.applied;
      totals.changed += d.changed.length;
      if (d.error) totals.unreadable++;
    }
    return { environment: s.environment, groups: s.groups, databases, tasks };
  });
  return {
    releaseId: p.release.id,
    stages,
    totals,
    ledgers: { ...sources, oldestReadAt: sources.oldestReadAt?.toISOString() ?? null },
  };
}

/**
 * The rollout a plan stands for: per stage, per database, its pending files in order. Refuses a plan with
 * unreadable ledgers (nothing is known there) or nothing to apply; stages with nothing pending are left out.
 */
export function rolloutFromPlan(
  release: ReleaseWithFiles,
  plan: ReleasePlan,
  p: { projectId: string; title: string; createdBy: string },
): NewRollout {
  const unreadable = plan.stages.flatMap((s) => s.databases.filter((d) => d.error));
  if (unreadable.length > 0)
    throw new StoreError(
      "FAILED_PRECONDITION",
      `the ledger of ${unreadable.length} database(s) could not be read, e.g. ${unreadable[0]!.instanceId}/${unreadable[0]!.database}: ${unreadable[0]!.error}`,
      {
        reason: "LEDGER_UNREADABLE",
        databases: unreadable.slice(0, 20).map((d) => ({ instanceId: d.instanceId, database: d.database, error: d.error })),
      },
    );
  // A group that names no database is far more often a pattern's typo than a wish: refused, so that a CI job
  // that rolls out to it fails instead of reporting "nothing pending" while no database ever gets the files.
  const empty = plan.stages.filter((s) => s.databases.length === 0);
  if (empty.length > 0) {
    const groups = (s: PlannedStage) => s.groups.map((g) => `"${g.name}"`).join(", ");
    throw new StoreError(
      "FAILED_PRECONDITION",
      empty
        .map((s) => `stage "${s.environment}" names no database${s.groups.length ? ` (group ${groups(s)} matches none)` : ""}`)
        .join("; "),
      { reason: "STAGE_EMPTY", stages: empty.map((s) => ({ environment: s.environment, groups: s.groups.map((g) => g.name) })) },
    );
  }
  if (plan.totals.tasks > MAX_RELEASE_ROLLOUT_TASKS)
    throw new StoreError("INVALID_ARGUMENT", `the plan has ${plan.totals.tasks} tasks; at most ${MAX_RELEASE_ROLLOUT_TASKS} per rollout`);
  if (plan.totals.tasks === 0)
    throw new StoreError("FAILED_PRECONDITION", "every target already has every file of the release: nothing to roll out", {
      reason: "NOTHING_PENDING",
    });
  const byName = new Map(release.files.map((f) => [f.name, f]));
  const versions = taskVersions(release.files);
  return {
    projectId: p.projectId,
    title: p.title,
    createdBy: p.createdBy,
    stages: plan.stages
      .filter((s) => s.tasks > 0)
      .map((s) => ({
        environment: s.environment,
        tasks: s.databases.flatMap((d) =>
          d.pending.map((name) => {
            const f = byName.get(name)!;
            return {
              type: f.type as TaskType,
              instanceId: d.instanceId,
              database: d.database,
              statement: f.statement,
              schemaVersion: versions.get(name)!,
              // Planned from a ledger that may be stale: the executor checks the target's ledger again.
              applyOnce: f.version === null ? ("CONTENT" as const) : ("VERSION" as const),
            };
          }),
        ),
      })),
  };
}

/**
 * The schema version each file's task carries. Unversioned files must run after the release's versioned
 * ones (a seed needs its table), and the gating orders tasks by version, so they get `<last>.R.<n>`: it
 * sorts after every version up to the release's last (a non-numeric part sorts after a numeric one) and
 * keeps them in name order. Pending detection never reads it back for them: an unversioned file is
 * known by its checksum.
 */
export function taskVersions(files: ReleaseWithFiles["files"]): Map<string, string> {
  const versioned = files.filter((f) => f.version !== null);
  const last = versioned.length > 0 ? versioned[versioned.length - 1]!.version! : "0";
  let n = 0;
  return new Map(files.map((f) => [f.name, f.version ?? `${last}.R.${String(++n).padStart(3, "0")}`]));
}
