import { TASK_TYPES, type TaskStatus, type TaskType } from "@runway/shared";
import type { TaskSortKey } from "@runway/shared/schemas";

/**
 * What the rollout page's search, filters and sort say, as it lives in the URL (`?q=…&db=…&sort=…`), so a
 * view can be shared and survives a reload. The status chips keep their own `status` key. Pure functions:
 * the page parses the route into this and writes this back into the route.
 */
export interface TaskQuery {
  q: string;
  stageId: string | null;
  instanceId: string | null;
  database: string | null;
  type: TaskType | null;
  errorCode: string | null;
  sort: TaskSortKey;
  order: "asc" | "desc";
}

export const SORT_KEYS: readonly TaskSortKey[] = [
  "id",
  "database",
  "type",
  "schemaVersion",
  "status",
  "stage",
  "started",
  "finished",
  "duration",
];
export const emptyQuery = (): TaskQuery => ({
  q: "",
  stageId: null,
  instanceId: null,
  database: null,
  type: null,
  errorCode: null,
  sort: "id",
  order: "asc",
});

const one = (v: unknown): string | null => {
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === "string" && s !== "" ? s : null;
};
const matching = (v: unknown, re: RegExp) => {
  const s = one(v);
  return s !== null && re.test(s) ? s : null;
};

/** Route query → TaskQuery; values the API would refuse are dropped rather than sent. */
export function parseTaskQuery(query: Record<string, unknown>): TaskQuery {
  const sort = one(query.sort);
  const type = one(query.type);
  return {
    q: (one(query.q) ?? "").slice(0, 200),
    stageId: matching(query.stage, /^[1-9][0-9]{0,17}$/),
    instanceId: matching(query.instance, /^[a-z][a-z0-9-]{0,62}$/),
    database: matching(query.db, /^.{1,200}$/),
    type: type && (TASK_TYPES as readonly string[]).includes(type) ? (type as TaskType) : null,
    errorCode: matching(query.error, /^([0-9A-Z_]{5,40}|none)$/),
    sort: sort && (SORT_KEYS as readonly string[]).includes(sort) ? (sort as TaskSortKey) : "id",
    order: one(query.order) === "desc" ? "desc" : "asc",
  };
}

/** TaskQuery → the route's query keys (defaults left out, so a plain view keeps a plain URL). */
export function taskQueryToRoute(p: TaskQuery): Record<string, string | undefined> {
  return {
    q: p.q.trim() || undefined,
    stage: p.stageId ?? undefined,
    instance: p.instanceId ?? undefined,
    db: p.database ?? undefined,
    type: p.type ?? undefined,
    error: p.errorCode ?? undefined,
    sort: p.sort === "id" ? undefined : p.sort,
    order: p.order === "asc" ? undefined : p.order,
  };
}

/** TaskQuery + the chips' statuses → the task list API's query (its TaskFilter and sort). */
export function taskQueryToApi(p: TaskQuery, statuses: readonly TaskStatus[]): Record<string, string | readonly string[] | undefined> {
  return {
    status: statuses.length ? statuses : undefined,
    q: p.q.trim() || undefined,
    stageId: p.stageId ?? undefined,
    instanceId: p.instanceId ?? undefined,
    database: p.database ?? undefined,
    type: p.type ?? undefined,
    errorCode: p.errorCode ?? undefined,
    sort: p.sort === "id" ? undefined : p.sort,
    order: p.order === "asc" ? undefined : p.order,
  };
}

/**
 * Whether the server must answer the view: any search, filter or sort. The status chips alone stay in the
 * browser (every task is loaded; a chip switch must not wait on the network).
 */
export function isServerQuery(p: TaskQuery): boolean {
  return (
    p.q.trim() !== "" ||
    p.stageId !== null ||
    p.instanceId !== null ||
    p.database !== null ||
    p.type !== null ||
    p.errorCode !== null ||
    p.sort !== "id" ||
    p.order !== "asc"
  );
}

export const sameQuery = (a: TaskQuery, b: TaskQuery) => (Object.keys(a) as (keyof TaskQuery)[]).every((k) => a[k] === b[k]);

/** A click on a column header: that column ascending, or the other direction when it is already sorted by it. */
export function toggleSort(p: TaskQuery, key: TaskSortKey): TaskQuery {
  if (p.sort !== key) return { ...p, sort: key, order: "asc" };
  return { ...p, order: p.order === "asc" ? "desc" : "asc" };
}
