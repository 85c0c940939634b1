/**
 * A small client of Runway's REST API: bearer token, JSON in and out, every request bounded in time, and
 * errors carrying the API's stable code.
 */

export interface ClientOptions {
  url: string;
  token: string;
  timeoutMs?: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export class Client {
  /** The server's root, where the dashboard is: `https://runway.internal`. */
  readonly url: string;
  /** The API's root: `<url>/api/v1`. */
  readonly base: string;
  private readonly timeoutMs: number;

  constructor(private readonly o: ClientOptions) {
    this.url = o.url.replace(/\/+$/, "");
    this.base = this.url + "/api/v1";
    this.timeoutMs = o.timeoutMs ?? 60_000;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.o.token}`, ...extra };
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: this.headers(body === undefined ? {} : { "content-type": "application/json" }),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new ApiError(0, "UNREACHABLE", `cannot reach ${this.base}: ${(e as Error).message}`);
    }
    const text = await res.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (a proxy's error page): reported below
    }
    if (!res.ok) {
      const err = (json as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
      throw new ApiError(
        res.status,
        err?.code ?? `HTTP_${res.status}`,
        err?.message ?? (text.slice(0, 500) || res.statusText),
        err?.details,
      );
    }
    return { status: res.status, body: json as T };
  }

  get<T>(path: string) {
    return this.request<T>("GET", path).then((r) => r.body);
  }
  post<T>(path: string, body: unknown) {
    return this.request<T>("POST", path, body);
  }
}

/** RUNWAY_URL and RUNWAY_TOKEN (or the flags), refused early with a clear message when missing. */
export function clientFrom(opts: { url?: string; token?: string }, env: NodeJS.ProcessEnv = process.env): Client {
  const url = opts.url ?? env.RUNWAY_URL;
  const token = opts.token ?? env.RUNWAY_TOKEN;
  if (!url) throw new UsageError("set RUNWAY_URL (e.g. https://runway.internal) or pass --url");
  if (!token) throw new UsageError("set RUNWAY_TOKEN to an API token (POST /api/v1/tokens, or My tokens in the dashboard)");
  return new Client({ url, token });
}

export class UsageError extends Error {}
