/**
 * The one place that talks HTTP. Cookie session + CSRF header on mutations; errors become ApiError
 * carrying the API's `{error: {code, message, details}}`.
 */
export const API_BASE = "/api/v1";
export const CSRF_HEADER = "x-csrf-token";

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

type Query = Record<string, string | number | readonly string[] | undefined | null>;

interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** Do not call the unauthenticated handler on 401 (used by the session probe and login). */
  quiet401?: boolean;
  /** Give up after this long (an ApiError with code TIMEOUT); REQUEST_TIMEOUT_MS unless set. */
  timeoutMs?: number;
}

/**
 * A server that accepts the connection but never answers would leave a spinner forever; every call is
 * bounded. Generous: a rollout page of 10,000 tasks on a loaded server takes seconds.
 */
export const REQUEST_TIMEOUT_MS = 60_000;
/** Codes the dashboard gives failures that carry no server code (see lib/api-error-text.ts). */
export const NETWORK = "NETWORK";
export const TIMEOUT = "TIMEOUT";

let csrfToken: string | undefined;
let unauthenticatedHandler: (() => void) | undefined;
let forbiddenHandler: (() => void) | undefined;

export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

export function onUnauthenticated(handler: (() => void) | undefined): void {
  unauthenticatedHandler = handler;
}

/** Called after any 403: the user's role may have changed meanwhile (the auth store reloads it). */
export function onForbidden(handler: (() => void) | undefined): void {
  forbiddenHandler = handler;
}

export function buildUrl(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) for (const v of value) params.append(key, v);
    else params.append(key, String(value));
  }
  const qs = params.toString();
  return `${API_BASE}${path}${qs ? `?${qs}` : ""}`;
}

async function parseError(res: Response): Promise<ApiError> {
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  const err = (body as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
  return new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? res.statusText, err?.details);
}

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrfToken) headers[CSRF_HEADER] = csrfToken;
  const controller = new AbortController();
  const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  // The browser's own text ("Failed to fetch", "NetworkError when…") is never shown: the code picks a sentence.
  const failed = (cause: unknown) =>
    controller.signal.aborted
      ? new ApiError(0, TIMEOUT, `no answer within ${timeoutMs} ms`)
      : new ApiError(0, NETWORK, cause instanceof Error ? cause.message : String(cause));
  try {
    let res: Response;
    try {
      res = await globalThis.fetch(buildUrl(path, options.query), {
        method,
        headers,
        credentials: "same-origin",
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: controller.signal,
      });
    } catch (cause) {
      throw failed(cause);
    }
    if (!res.ok) {
      const error = await parseError(res);
      if (res.status === 401 && !options.quiet401) unauthenticatedHandler?.();
      if (res.status === 403) forbiddenHandler?.();
      throw error;
    }
    if (res.status === 204) return undefined as T;
    let text: string;
    try {
      text = await res.text();
    } catch (cause) {
      throw failed(cause); // the connection broke (or the timeout hit) while the body was arriving
    }
    return (text ? JSON.parse(text) : undefined) as T;
  } finally {
    clearTimeout(timer);
  }
}
