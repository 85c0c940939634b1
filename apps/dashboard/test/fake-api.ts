/**
 * An in-memory stand-in for the REST API (issue 3) behind `fetch`, so store and view tests run the real
 * HTTP layer (URLs, CSRF header, error bodies). The e2e suite runs against the real server.
 */
import { TaskStatus, type Role } from "@runway/shared";
import { vi } from "vitest";
import type { ApiToken, Project, Rollout, RolloutBlockers, Task, TaskRun } from "@/api/types";
import { emptyCounts } from "@/lib/task-counts";

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: unknown;
}

type Reply = { status: number; body?: unknown };
type Handler = (req: RecordedRequest, params: string[]) => Reply;

const json = (status: number, body?: unknown): Reply => ({ status, body });
const err = (status: number, code: string, message: string): Reply => json(status, { error: { code, message } });

export function makeTask(id: number, over: Partial<Task> = {}): Task {
  return {
    id: String(id),
    rolloutId: "1",
    stageId: "s1",
    type: "DATABASE_SCHEMA_UPDATE",
    instanceId: "pg-main",
    database: `db_${id}`,
    schemaVersion: "0001",
    statement: `ALTER TABLE t${id} ADD COLUMN c int;`,
    status: TaskStatus.NOT_STARTED,
    ...over,
  };
}

export function makeRun(taskId: string, over: Partial<TaskRun> = {}): TaskRun {
  return {
    id: `r${taskId}`,
    taskId,
    attempt: 1,
    status: "PENDING",
    runAt: null,
    createdAt: "2030-01-01T10:00:00.000Z",
    startedAt: null,
    finishedAt: null,
    createdBy: "admin",
    canceledBy: null,
    cancelRequestedAt: null,
    replicaId: null,
    ...over,
  };
}

export class FakeApi {
  user: { username: string; role: Role; projectRoles?: Record<string, "none" | "viewer" | "releaser"> } | null = null;
  users = new Map<string, { password: string; role: Role }>([["admin", { password: "secret", role: "admin" }]]);
  csrf = "csrf-123";
  projects: Project[] = [{ id: "shop", title: "Shop", parallelTasksPerRollout: 2 }];
  rollout: Rollout = {
    id: "1",
    projectId: "shop",
    title: "Add columns",
    createdAt: "2030-01-01T09:00:00.000Z",
    createdBy: "admin",
    statusCounts: emptyCounts(),
    stages: [
      { id: "s1", environment: "test", position: 0, statusCounts: emptyCounts() },
      { id: "s2", environment: "prod", position: 1, statusCounts: emptyCounts() },
    ],
  };
  rolloutCount = 45;
  tasks: Task[] = [];
  /** What GET /rollouts/:id/blockers answers. */
  blockers: RolloutBlockers = { held: 0, roots: [], stages: [] };
  /** API tokens (GET /tokens lists them all, as it does for an admin). */
  apiTokens: ApiToken[] = [];
  maxPageSize = 100;
  requests: RecordedRequest[] = [];
  /** Change cursors handed out by the task list, each with the tasks as they were then. */
  snapshots = new Map<string, Map<string, string>>();
  /** Lets a test hold a request until it says so (a deferred), to look at the state in between. */
  beforeReply: ((req: RecordedRequest) => Promise<void> | undefined) | undefined;
  private routes: [string, RegExp, Handler][] = [];

  constructor() {
    const r = (method: string, pattern: string, h: Handler) =>
      this.routes.push([method, new RegExp(`^/api/v1${pattern.replace(/:\w+/g, "([^/]+)")}$`), h]);
    r("GET", "/auth/me", () => (this.user ? json(200, { ...this.user, csrfToken: this.csrf }) : err(401, "UNAUTHENTICATED", "no session")));
    r("POST", "/auth/login", (req) => {
      const { username, password } = req.body as { username: string; password: string };
      const u = this.users.get(username);
      if (!u || u.password !== password) return err(401, "UNAUTHENTICATED", "wrong username or password");
      this.user = { username, role: u.role };
      return json(200, { username, role: u.role });
    });
    r("POST", "/auth/logout", () => ((this.user = null), json(204)));
    r("GET", "/projects", () => json(200, { projects: this.projects }));
    r("GET", "/projects/:id", (_q, [id]) => {
      const p = this.projects.find((x) => x.id === id);
      return p ? json(200, p) : err(404, "NOT_FOUND", `project ${id} not found`);
    });
    r("PATCH", "/projects/:id", (req, [id]) => {
      const p = this.projects.find((x) => x.id === id);
      if (!p) return err(404, "NOT_FOUND", "no project");
      Object.assign(p, req.body);
      return json(200, p);
    });
    r("GET", "/projects/:id/rollouts", (req) => {
      const size = Number(req.query.get("pageSize") ?? 20);
      const from = Number(req.query.get("pageToken") ?? 0);
      const all = Array.from({ length: this.rolloutCount }, (_, i) => ({
        ...this.rollout,
        id: String(this.rolloutCount - i),
        title: `Rollout ${this.rolloutCount - i}`,
      }));
      const next = from + size < all.length ? String(from + size) : null;
      return json(200, { rollouts: all.slice(from, from + size), nextPageToken: next });
    });
    r("GET", "/rollouts/:id", () => json(200, this.rollout));
    r("GET", "/rollouts/:id/tasks", (req) => {
      const size = Math.min(Number(req.query.get("pageSize") ?? 50), this.maxPageSize);
      const from = Number(req.query.get("pageToken") ?? 0);
      const statuses = req.query.getAll("status");
      let list = statuses.length ? this.tasks.filter((t) => statuses.includes(t.status)) : this.tasks;
      const since = req.query.get("updatedSince");
      if (since !== null) {
        const seen = this.snapshots.get(since);
        if (!seen) return err(400, "INVALID_ARGUMENT", "querystring/updatedSince is not a cursor this API returned");
        list = list.filter((t) => seen.get(t.id) !== JSON.stringify(t));
      }
      // Like the server's: "what changed after this read" — here, a snapshot of every task to compare with.
      const cursor = `c${this.snapshots.size + 1}`;
      this.snapshots.set(cursor, new Map(this.tasks.map((t) => [t.id, JSON.stringify(t)])));
      return json(200, {
        tasks: list.slice(from, from + size),
        nextPageToken: from + size < list.length ? String(from + size) : null,
        cursor,
      });
    });
    r("POST", "/rollouts/:id/tasks/run", (req) => {
      const { taskIds, runAt } = req.body as { taskIds: string[]; runAt?: string };
      const results = taskIds.map((id) => {
        const t = this.tasks.find((x) => x.id === id)!;
        if (t.status === "SKIPPED") return { taskId: id, outcome: "TASK_SKIPPED" };
        if (t.status === "DONE") return { taskId: id, outcome: "ALREADY_DONE" };
        if (["PENDING", "AVAILABLE", "RUNNING"].includes(t.status)) return { taskId: id, outcome: "ALREADY_ACTIVE" };
        const attempt = (t.latestRun?.attempt ?? 0) + 1;
        t.latestRun = makeRun(id, { id: `r${id}-${attempt}`, attempt, runAt: runAt ?? null });
        t.status = TaskStatus.PENDING;
        return { taskId: id, outcome: "CREATED", taskRunId: t.latestRun.id };
      });
      return json(200, { results });
    });
    r("POST", "/rollouts/:id/tasks/skip", (req) => {
      const { taskIds, reason } = req.body as { taskIds: string[]; reason: string };
      const bad = taskIds.filter((id) => !["NOT_STARTED", "FAILED", "CANCELED"].includes(this.tasks.find((t) => t.id === id)!.status));
      if (bad.length) return err(409, "FAILED_PRECONDITION", `tasks ${bad.join(", ")} cannot be skipped`);
      for (const t of this.tasks) if (taskIds.includes(t.id)) Object.assign(t, { status: "SKIPPED", skipReason: reason });
      return json(200, { skipped: taskIds });
    });
    r("POST", "/rollouts/:id/task-runs/cancel", (req) => {
      const { taskRunIds } = req.body as { taskRunIds: string[] };
      const results = taskRunIds.map((runId) => {
        const t = this.tasks.find((x) => x.latestRun?.id === runId)!;
        const running = t.status === "RUNNING";
        if (!running) t.status = TaskStatus.CANCELED;
        return { taskRunId: runId, outcome: running ? "CANCEL_REQUESTED" : "CANCELED" };
      });
      return json(200, { results });
    });
    r("POST", "/rollouts/:id/tasks/bulk", (req) => {
      const b = req.body as {
        action: string;
        taskIds?: string[];
        filter?: { status?: string[] };
        runAt?: string;
        reason?: string;
        dryRun?: boolean;
      };
      const rules: Record<string, [string[], string[]]> = {
        run: [["NOT_STARTED"], ["PENDING", "AVAILABLE", "RUNNING", "DONE"]],
        schedule: [["NOT_STARTED"], ["PENDING", "AVAILABLE", "RUNNING"]],
        retry: [
          ["FAILED", "CANCELED"],
          ["PENDING", "AVAILABLE", "RUNNING"],
        ],
        cancel: [["PENDING", "AVAILABLE", "RUNNING"], ["CANCELED"]],
        skip: [["NOT_STARTED", "FAILED", "CANCELED"], ["SKIPPED"]],
      };
      const [act, already] = rules[b.action]!;
      const targets = b.taskIds
        ? b.taskIds.map((id) => this.tasks.find((x) => x.id === id)!)
        : this.tasks.filter((t) => !b.filter?.status?.length || b.filter.status.includes(t.status));
      const results = targets.map((t) => {
        if (!act.includes(t.status)) {
          return already.includes(t.status)
            ? { taskId: t.id, result: "ALREADY", status: t.status }
            : { taskId: t.id, result: "NOT_ALLOWED", status: t.status, reason: "STATUS" };
        }
        const was = t.status;
        if (!b.dryRun) {
          if (b.action === "skip") Object.assign(t, { status: "SKIPPED", skipReason: b.reason });
          else if (b.action === "cancel") {
            if (was !== "RUNNING") t.status = TaskStatus.CANCELED;
          } else {
            const attempt = (t.latestRun?.attempt ?? 0) + 1;
            t.latestRun = makeRun(t.id, { id: `r${t.id}-${attempt}`, attempt, runAt: b.runAt ?? null });
            t.status = TaskStatus.PENDING;
          }
        }
        return {
          taskId: t.id,
          result: "CHANGED",
          status: t.status,
          ...(b.action === "cancel" && was === "RUNNING" ? { cancelRequested: true } : {}),
        };
      });
      const counts = { CHANGED: 0, ALREADY: 0, NOT_ALLOWED: 0 } as Record<string, number>;
      for (const x of results) counts[x.result]!++;
      return json(200, { action: b.action, results, counts });
    });
    r("GET", "/tokens", () => json(200, { tokens: this.apiTokens }));
    r("POST", "/tokens", (req) => {
      const { name, expiresInDays } = req.body as { name: string; expiresInDays: number };
      const now = Date.now();
      const token: ApiToken = {
        id: String(this.apiTokens.length + 100),
        username: this.user!.username,
        name,
        createdAt: new Date(now).toISOString(),
        lastUsedAt: null,
        revokedAt: null,
        expiresAt: new Date(now + expiresInDays * 86_400_000).toISOString(),
      };
      this.apiTokens.push(token);
      return json(201, { ...token, token: `rwt_secret_${token.id}` });
    });
    r("DELETE", "/tokens/:id", (_q, [id]) => {
      const t = this.apiTokens.find((x) => x.id === id);
      if (!t) return err(404, "NOT_FOUND", `token ${id} not found`);
      t.revokedAt = new Date().toISOString();
      return json(204);
    });
    r("GET", "/tasks/:id", (_q, [id]) => {
      const t = this.tasks.find((x) => x.id === id);
      return t ? json(200, t) : err(404, "NOT_FOUND", `task ${id} not found`);
    });
    r("GET", "/rollouts/:id/blockers", () => json(200, this.blockers));
    r("GET", "/tasks/:id/runs", (_q, [id]) => {
      const t = this.tasks.find((x) => x.id === id);
      return json(200, { runs: t?.latestRun ? [t.latestRun] : [] });
    });
    r("GET", "/task-runs/:id/logs", () =>
      json(200, {
        entries: [{ id: "1", at: "2030-01-01T10:00:01Z", type: "STATUS", replicaId: "r1", message: "claimed", data: {} }],
        nextPageToken: null,
      }),
    );
  }

  fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input), "http://localhost");
    const headers = Object.fromEntries(
      Object.entries((init?.headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]),
    );
    const method = init?.method ?? "GET";
    const req: RecordedRequest = {
      method,
      path: url.pathname,
      query: url.searchParams,
      headers,
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
    };
    this.requests.push(req);
    await this.beforeReply?.(req);
    let reply: Reply = err(404, "NOT_FOUND", `no route ${method} ${url.pathname}`);
    for (const [m, re, h] of this.routes) {
      const match = re.exec(url.pathname);
      if (m !== method || !match) continue;
      if (!this.user && !url.pathname.startsWith("/api/v1/auth/")) {
        reply = err(401, "UNAUTHENTICATED", "sign in first");
      } else if (method !== "GET" && !url.pathname.startsWith("/api/v1/auth/login") && headers["x-csrf-token"] !== this.csrf) {
        reply = err(403, "PERMISSION_DENIED", "missing or wrong CSRF token");
      } else reply = h(req, match.slice(1).map(decodeURIComponent));
      break;
    }
    return new Response(reply.body === undefined ? null : JSON.stringify(reply.body), {
      status: reply.status,
      headers: { "content-type": "application/json" },
    });
  };

  /** Requests whose path ends with `suffix`, e.g. "/tasks/run". */
  calls(method: string, suffix: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path.endsWith(suffix));
  }
}

export function installFakeApi(setup?: (api: FakeApi) => void): FakeApi {
  const api = new FakeApi();
  setup?.(api);
  vi.stubGlobal("fetch", api.fetch);
  return api;
}
