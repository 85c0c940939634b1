import { expect } from "@playwright/test";
import type { Api, ApiTask, NewTask } from "./api.js";
import { TARGET_DB } from "./target.js";

const LONG = "SELECT pg_sleep(600)";

const data = (statement: string): NewTask => ({ type: "DATABASE_DATA_UPDATE", instanceId: "local", database: TARGET_DB, statement });
const schema = (statement: string, schemaVersion: string): NewTask => ({
  type: "DATABASE_SCHEMA_UPDATE",
  instanceId: "local",
  database: TARGET_DB,
  statement,
  schemaVersion,
});

export interface GatesRollout {
  rolloutId: string;
  /** By role in the scenario. */
  ids: { long: string[]; limited: string[]; v1: string; v2: string };
}

/**
 * A rollout held by its gates, with a project limit of 3 and one worker (RUNWAY_CONCURRENCY=1):
 * three long data updates (one RUNNING, two AVAILABLE: the worker is busy), two more PENDING on
 * PARALLEL_LIMIT (3/3), and schema versions 0001 (PARALLEL_LIMIT) and 0002 (VERSION_ORDER on 0001).
 */
export async function createGatesRollout(api: Api, projectId: string): Promise<GatesRollout> {
  await api.createProject(projectId, 3);
  const rolloutId = await api.createRollout(projectId, "Gates", [
    {
      environment: "staging",
      tasks: [data(LONG), data(LONG), data(LONG), data("SELECT 1"), data("SELECT 2"), schema(LONG, "0001"), schema("SELECT 3", "0002")],
    },
  ]);
  const tasks = await api.tasks(rolloutId);
  const [a, b, c, d, e, v1, v2] = tasks.map((t) => t.id) as [string, string, string, string, string, string, string];
  await api.run(rolloutId, [a, b, c]);
  await expect
    .poll(async () => statusesOf(await api.tasks(rolloutId), [a, b, c]), { timeout: 30_000 })
    .toEqual(["AVAILABLE", "AVAILABLE", "RUNNING"]);
  await api.run(rolloutId, [d, e, v1, v2]);
  await expect
    .poll(async () => causesOf(await api.tasks(rolloutId), [d, e, v1, v2]), { timeout: 30_000 })
    .toEqual(["PARALLEL_LIMIT", "PARALLEL_LIMIT", "PARALLEL_LIMIT", "VERSION_ORDER"]);
  return { rolloutId, ids: { long: [a, b, c], limited: [d, e], v1, v2 } };
}

export function statusesOf(tasks: ApiTask[], ids: string[]): string[] {
  return tasks
    .filter((t) => ids.includes(t.id))
    .map((t) => t.status)
    .sort();
}

export function causesOf(tasks: ApiTask[], ids: string[]): (string | undefined)[] {
  return ids.map((id) => tasks.find((t) => t.id === id)?.latestRun?.waitingCause?.type);
}
