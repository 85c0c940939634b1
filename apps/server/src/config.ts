import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** Every setting is an environment variable; README.md documents them in one table. */
export interface Config {
  databaseUrl: string | undefined;
  dataDir: string;
  embeddedPgPort: number;
  port: number;
  host: string;
  replicaId: string;
  concurrency: number;
  pollIntervalMs: number;
  leaseTtlMs: number;
  heartbeatIntervalMs: number;
  sweepIntervalMs: number;
  fullPassIntervalMs: number;
  statementTimeoutMs: number;
  drainGraceMs: number;
  /** How long a run whose target cannot be reached keeps being retried before it FAILs. */
  targetRetryMs: number;
  demo: boolean;
  adminPassword: string | undefined;
  /** How long a dashboard session lasts (API). */
  sessionTtlMs: number;
  /** RUNWAY_SECRET_KEY (base64, 32 bytes): seals stored secrets; without it, `<dataDir>/secret.key`. */
  secretKey: string | undefined;
  /** RUNWAY_SECRET_KEY_PREVIOUS: during a key rotation, the old key (opens, never seals). */
  secretKeyPrevious: string | undefined;
  /**
   * Failed sign-ins allowed per username and client address before backoff; five times as many per client
   * address across usernames (API; shared by all replicas).
   */
  loginRateLimit: number;
  /**
   * Which proxies to believe about the client: false (X-Forwarded-* ignored), true (any), a hop count, or
   * addresses/CIDRs. Decides req.ip (login limits, audit) and req.protocol (the cookie's Secure flag, HSTS).
   */
  trustProxy: boolean | number | string[];
  /** Time to receive a whole request (headers and body), the headers alone, and idle time between keep-alive requests. */
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** Open SSE streams allowed per user on one replica, and in total on one replica; past either cap: 429. */
  sseMaxPerUser: number;
  sseMaxStreams: number;
  /** How often an open SSE stream's credential is checked again (it is also checked at once on sign-out, disable, role change, revoke). */
  sseRecheckMs: number;
  logLevel: string;
  /** RUNWAY_PUBLIC_URL: the dashboard's address as people reach it; webhook messages link to it. */
  publicUrl: string | null;
  /** Webhook delivery: one attempt's bound, and the retry backoff (base, doubling, capped). */
  webhookTimeoutMs: number;
  webhookRetryBaseMs: number;
  webhookRetryMaxMs: number;
}

/** RUNWAY_TRUST_PROXY: "true", a hop count ("1": the nearest proxy), or a comma-separated list of addresses/CIDRs. */
function trustProxy(raw: string | undefined): boolean | number | string[] {
  if (raw === undefined || raw === "" || raw === "false" || raw === "0") return false;
  if (raw === "true") return true;
  if (/^[1-9][0-9]?$/.test(raw)) return Number(raw);
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: string[] = process.argv): Config {
  const config = readConfig(env, argv);
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    throw new Error(
      `RUNWAY_HEADERS_TIMEOUT_MS (${config.headersTimeoutMs}) must not exceed RUNWAY_REQUEST_TIMEOUT_MS (${config.requestTimeoutMs})`,
    );
  }
  return config;
}

function readConfig(env: NodeJS.ProcessEnv, argv: string[]): Config {
  const noDemo = argv.includes("--no-demo") || env.RUNWAY_DEMO === "0" || env.RUNWAY_DEMO === "false";
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: path.resolve(env.RUNWAY_DATA_DIR || path.join(REPO_ROOT, ".runway")),
    embeddedPgPort: int(env, "RUNWAY_PG_PORT", 54329, 1),
    port: int(env, "PORT", 8080),
    host: env.HOST || "127.0.0.1",
    replicaId: env.RUNWAY_REPLICA_ID || `${os.hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    concurrency: int(env, "RUNWAY_CONCURRENCY", 8, 1),
    pollIntervalMs: int(env, "RUNWAY_POLL_INTERVAL_MS", 1000, 10),
    leaseTtlMs: int(env, "RUNWAY_LEASE_TTL_MS", 15000, 100),
    heartbeatIntervalMs: int(env, "RUNWAY_HEARTBEAT_INTERVAL_MS", 3000, 10),
    sweepIntervalMs: int(env, "RUNWAY_SWEEP_INTERVAL_MS", 2000, 10),
    fullPassIntervalMs: int(env, "RUNWAY_FULL_PASS_INTERVAL_MS", 300000, 1000),
    statementTimeoutMs: int(env, "RUNWAY_STATEMENT_TIMEOUT_MS", 3600000, 0),
    drainGraceMs: int(env, "RUNWAY_DRAIN_GRACE_MS", 30000, 0),
    targetRetryMs: int(env, "RUNWAY_TARGET_RETRY_S", 600, 0) * 1000,
    demo: !noDemo,
    adminPassword: env.RUNWAY_ADMIN_PASSWORD || undefined,
    sessionTtlMs: int(env, "RUNWAY_SESSION_TTL_MS", 12 * 3600 * 1000, 60_000),
    loginRateLimit: int(env, "RUNWAY_LOGIN_RATE_LIMIT", 10, 1),
    trustProxy: trustProxy(env.RUNWAY_TRUST_PROXY),
    requestTimeoutMs: int(env, "RUNWAY_REQUEST_TIMEOUT_MS", 30_000, 1000),
    headersTimeoutMs: int(env, "RUNWAY_HEADERS_TIMEOUT_MS", 10_000, 1000),
    keepAliveTimeoutMs: int(env, "RUNWAY_KEEP_ALIVE_TIMEOUT_MS", 5_000, 1000),
    sseMaxPerUser: int(env, "RUNWAY_SSE_MAX_PER_USER", 10, 1),
    sseMaxStreams: int(env, "RUNWAY_SSE_MAX_STREAMS", 1000, 1),
    sseRecheckMs: int(env, "RUNWAY_SSE_RECHECK_MS", 30_000, 100),
    logLevel: env.LOG_LEVEL || "info",
    publicUrl: env.RUNWAY_PUBLIC_URL || null,
    webhookTimeoutMs: int(env, "RUNWAY_WEBHOOK_TIMEOUT_MS", 10_000, 100),
    webhookRetryBaseMs: int(env, "RUNWAY_WEBHOOK_RETRY_BASE_MS", 10_000, 10),
    webhookRetryMaxMs: int(env, "RUNWAY_WEBHOOK_RETRY_MAX_MS", 3_600_000, 10),
    secretKey: env.RUNWAY_SECRET_KEY || undefined,
    secretKeyPrevious: env.RUNWAY_SECRET_KEY_PREVIOUS || undefined,
  };
}
