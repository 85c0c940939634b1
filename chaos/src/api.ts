import type { ReplicaSet, Replica } from "./replicas.js";

/**
 * The harness's REST client. Logs in as admin once (session cookie + CSRF token), creates an API token,
 * then uses `Authorization: Bearer` for everything. Calls go to a healthy replica of the caller's choice
 * (or round-robin); idempotent calls are retried on another replica when one dies under them.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    what: string,
  ) {
    super(`${what}: HTTP ${status} ${JSON.stringify(body)}`);
  }
}

export class Api {
  private token = "";
  private next = 0;

  constructor(private readonly replicas: ReplicaSet) {}

  async signIn(password: string): Promise<void> {
    const via = this.pick();
    const login = await fetch(`${base(via)}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password }),
    });
    if (login.status !== 200) throw new ApiError(login.status, await login.text(), "login");
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    const cookie = (login.headers.getSetCookie?.() ?? []).map((c) => c.split(";")[0]).join("; ");
    const res = await fetch(`${base(via)}/api/v1/tokens`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie, "x-csrf-token": csrfToken },
      body: JSON.stringify({ name: "chaos harness" }),
    });
    if (res.status !== 201) throw new ApiError(res.status, await res.text(), "create API token");
    this.token = ((await res.json()) as { token: string }).token;
  }

  private pick(): Replica {
    const up = this.replicas.healthy();
    if (up.length === 0) throw new Error("no healthy replica to call");
    return up[this.next++ % up.length]!;
  }

  /** One call through `via` (default: round-robin). Returns status and parsed body; never retries. */
  async call<T = unknown>(method: string, path: string, body?: unknown, via?: Replica): Promise<{ status: number; body: T }> {
    const r = via ?? this.pick();
    const res = await fetch(`${base(r)}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }

  /**
   * An idempotent call that must succeed with `expect`: a network error (the replica was killed or frozen
   * under it) or a 5xx is retried on another replica, up to a deadline.
   */
  async must<T = unknown>(method: string, path: string, body?: unknown, expect = 200): Promise<T> {
    const deadline = Date.now() + 60_000;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        const res = await this.call<T>(method, path, body);
        if (res.status === expect) return res.body;
        if (res.status < 500) throw new ApiError(res.status, res.body, `${method} ${path}`);
        last = new ApiError(res.status, res.body, `${method} ${path}`);
      } catch (e) {
        if (e instanceof ApiError && e.status < 500) throw e;
        last = e;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw last instanceof Error ? last : new Error(String(last));
  }
}

const base = (r: Replica) => `http://127.0.0.1:${r.port}`;
