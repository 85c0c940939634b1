/**
 * A small client of the REST API for fixtures: signs in with a session cookie and sends the CSRF token on
 * mutations, exactly as the dashboard does.
 */
import type { Role } from "@runway/shared";
import type { NewTask, Task, TaskList } from "@runway/shared/schemas";

/** The wire types, as the server serves and accepts them. */
export type { NewTask, Task as ApiTask };

export class Api {
  private cookie = "";
  private csrf = "";

  constructor(readonly baseUrl: string) {}

  static async signIn(baseUrl: string, username: string, password: string): Promise<Api> {
    const api = new Api(baseUrl);
    const res = await fetch(`${baseUrl}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
    if (!res.ok) throw new Error(`login ${username}: ${res.status} ${await res.text()}`);
    api.cookie = (res.headers.getSetCookie()[0] ?? "").split(";")[0]!;
    api.csrf = ((await res.json()) as { csrfToken: string }).csrfToken;
    return api;
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { cookie: this.cookie };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (method !== "GET") headers["x-csrf-token"] = this.csrf;
    const res = await fetch(`${this.baseUrl}/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  createUser(username: string, password: string, role: Role) {
    return this.call("POST", "/users", { username, password, role });
  }

  createInstance(id: string, connectionUrl: string) {
    return this.call("POST", "/instances", { id, title: id, connectionUrl });
  }

  /** Creates a project with `instanceIds` attached (tasks may only name their project's instances). */
  async createProject(id: string, parallelTasksPerRollout: number, instanceIds = ["local"]) {
    const project = await this.call<{ id: string }>("POST", "/projects", { id, title: `Project ${id}`, parallelTasksPerRollout });
    for (const instanceId of instanceIds) await this.call("PUT", `/projects/${id}/instances/${instanceId}`);
    return project;
  }

  getProject(id: string) {
    return this.call<{ id: string; parallelTasksPerRollout: number }>("GET", `/projects/${id}`);
  }

  async createRollout(
    projectId: string,
    title: string,
    stages: { environment: string; tasks: NewTask[] }[],
    extra: Record<string, unknown> = {},
  ): Promise<string> {
    const r = await this.call<{ id: string }>("POST", `/projects/${projectId}/rollouts`, { title, stages, ...extra });
    return r.id;
  }

  async tasks(rolloutId: string): Promise<Task[]> {
    const all: Task[] = [];
    let token: string | null = null;
    do {
      const q: string = `pageSize=1000${token ? `&pageToken=${encodeURIComponent(token)}` : ""}`;
      const page: TaskList = await this.call("GET", `/rollouts/${rolloutId}/tasks?${q}`);
      all.push(...page.tasks);
      token = page.nextPageToken;
    } while (token);
    return all;
  }

  async run(rolloutId: string, taskIds: string[], runAt?: string) {
    for (let i = 0; i < taskIds.length; i += 1000) {
      await this.call("POST", `/rollouts/${rolloutId}/tasks/run`, { taskIds: taskIds.slice(i, i + 1000), ...(runAt ? { runAt } : {}) });
    }
  }

  async skip(rolloutId: string, taskIds: string[], reason: string) {
    for (let i = 0; i < taskIds.length; i += 1000) {
      await this.call("POST", `/rollouts/${rolloutId}/tasks/skip`, { taskIds: taskIds.slice(i, i + 1000), reason });
    }
  }

  /** Cancels every active run of a rollout (test clean-up: frees the workers for the next test). */
  async cancelAll(rolloutId: string) {
    const active = (await this.tasks(rolloutId)).filter((t) => ["PENDING", "AVAILABLE", "RUNNING"].includes(t.status) && t.latestRun);
    if (active.length)
      await this.call("POST", `/rollouts/${rolloutId}/task-runs/cancel`, { taskRunIds: active.map((t) => t.latestRun!.id) });
  }
}
