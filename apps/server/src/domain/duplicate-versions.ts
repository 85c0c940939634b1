import { versionSortKey } from "@runway/shared";

/** A task whose schema version another task of the same rollout already has on the same database. */
export interface DuplicateVersion {
  path: string;
  task: string;
  database: string;
  problem: "DUPLICATE_VERSION";
  version: string;
  /** The earlier task with that version there. */
  other: string;
  message: string;
}

interface TaskLike {
  instanceId: string;
  database: string;
  schemaVersion?: string | null;
}

/**
 * The tasks of a new rollout that repeat a version on a database (versions compare as the scheduler orders
 * them: "0001" is "1"). Both would run there, one after the other, each recorded in the target's ledger as
 * that version: a mistake a rollout can refuse before anything is written, whatever stage each is in.
 */
export function duplicateVersions(stages: readonly { tasks: readonly TaskLike[] }[]): DuplicateVersion[] {
  const first = new Map<string, string>();
  const out: DuplicateVersion[] = [];
  stages.forEach((s, i) =>
    s.tasks.forEach((t, j) => {
      if (!t.schemaVersion) return;
      const task = `stages/${i}/tasks/${j}`;
      const key = `${t.instanceId}\u0000${t.database}\u0000${versionSortKey(t.schemaVersion)}`;
      const other = first.get(key);
      if (other === undefined) {
        first.set(key, task);
        return;
      }
      out.push({
        path: `${task}/schemaVersion`,
        task,
        database: t.database,
        problem: "DUPLICATE_VERSION",
        version: t.schemaVersion,
        other,
        message: `task ${task} (database "${t.database}"): schema version ${t.schemaVersion} is already the version of task ${other} on this database; a version is applied once per database`,
      });
    }),
  );
  return out;
}
