import os from "node:os";
import path from "node:path";
import { REPO_ROOT } from "./paths.js";
import { ConfigError, readSettings } from "./config/read.js";
import { defaultClaimAhead } from "./scheduler/executor-slots.js";
import { FULL_PASS_BATCH, FULL_PASS_FIRST_BATCH } from "./store/gating-full.js";

export { ConfigError } from "./config/read.js";

export { REPO_ROOT } from "./paths.js";

/** Every setting is an environment variable; README.md documents them in one table. */
export interface Config {
  databaseUrl: string | undefined;
  dataDir: string;
  embeddedPgPort: number;
  port: number;
  host: string;
  replicaId: string;
  concurrency: number;
  /** Runs a replica claims ahead of its free slots while its runs are quick (scheduler/executor-slots.ts). */
  claimAhead: number;
  pollIntervalMs: number;
  leaseTtlMs: number;
  heartbeatIntervalMs: number;
  sweepIntervalMs: number;
  fullPassIntervalMs: number;
  /** PENDING runs a full pass decides at a time (PendingScheduler's fullPassBatchSize). */
  fullPassBatch: number;
  /** A full pass's first batch, doubled batch by batch up to fullPassBatch (PendingScheduler's fullPassFirstBatchSize). */
  fullPassFirstBatch: number;
  statementTimeoutMs: number;
  /** How old a ledger snapshot may be when a rollout is created from a release (issue 16). */
  ledgerSnapshotMaxAgeMs: number;
  /** How often each instance's databases (and its groups' ledger snapshots) are read again. */
  instanceListingIntervalMs: number;
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

/**
 * The replica's configuration from the environment. Every value is checked against the settings table
 * (config/settings.ts); all bad values are reported together in one ConfigError.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: string[] = process.argv): Config {
  const given = readSettings(env);
  const config = readConfig(given, argv);
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    throw new ConfigError([
      {
        env: "RUNWAY_HEADERS_TIMEOUT_MS",
        given: String(config.headersTimeoutMs),
        message: `must not exceed RUNWAY_REQUEST_TIMEOUT_MS (${config.requestTimeoutMs})`,
      },
    ]);
  }
  return config;
}

function readConfig(given: Map<string, string>, argv: string[]): Config {
  const str = (name: string) => given.get(name);
  const int = (name: string, fallback: number) => (given.has(name) ? Number(given.get(name)) : fallback);
  const demoFlag = str("RUNWAY_DEMO");
  const noDemo = argv.includes("--no-demo") || demoFlag === "0" || demoFlag === "false";
  return {
    databaseUrl: str("DATABASE_URL"),
    dataDir: path.resolve(str("RUNWAY_DATA_DIR") ?? path.join(REPO_ROOT, ".runway")),
    embeddedPgPort: int("RUNWAY_PG_PORT", 54329),
    port: int("PORT", 8080),
    host: str("HOST") ?? "127.0.0.1",
    replicaId: str("RUNWAY_REPLICA_ID") ?? `${os.hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    concurrency: int("RUNWAY_CONCURRENCY", 8),
    claimAhead: int("RUNWAY_CLAIM_AHEAD", defaultClaimAhead(int("RUNWAY_CONCURRENCY", 8))),
    pollIntervalMs: int("RUNWAY_POLL_INTERVAL_MS", 1000),
    leaseTtlMs: int("RUNWAY_LEASE_TTL_MS", 15000),
    heartbeatIntervalMs: int("RUNWAY_HEARTBEAT_INTERVAL_MS", 3000),
    sweepIntervalMs: int("RUNWAY_SWEEP_INTERVAL_MS", 2000),
    fullPassIntervalMs: int("RUNWAY_FULL_PASS_INTERVAL_MS", 300000),
    fullPassBatch: int("RUNWAY_FULL_PASS_BATCH", FULL_PASS_BATCH),
    fullPassFirstBatch: int("RUNWAY_FULL_PASS_FIRST_BATCH", FULL_PASS_FIRST_BATCH),
    statementTimeoutMs: int("RUNWAY_STATEMENT_TIMEOUT_MS", 3600000),
    ledgerSnapshotMaxAgeMs: int("RUNWAY_LEDGER_SNAPSHOT_MAX_AGE_MS", 300_000),
    instanceListingIntervalMs: int("RUNWAY_INSTANCE_LISTING_INTERVAL_MS", 300_000),
    drainGraceMs: int("RUNWAY_DRAIN_GRACE_MS", 30000),
    targetRetryMs: int("RUNWAY_TARGET_RETRY_S", 600) * 1000,
    demo: !noDemo,
    adminPassword: str("RUNWAY_ADMIN_PASSWORD"),
    sessionTtlMs: int("RUNWAY_SESSION_TTL_MS", 12 * 3600 * 1000),
    loginRateLimit: int("RUNWAY_LOGIN_RATE_LIMIT", 10),
    trustProxy: trustProxy(str("RUNWAY_TRUST_PROXY")),
    requestTimeoutMs: int("RUNWAY_REQUEST_TIMEOUT_MS", 30_000),
    headersTimeoutMs: int("RUNWAY_HEADERS_TIMEOUT_MS", 10_000),
    keepAliveTimeoutMs: int("RUNWAY_KEEP_ALIVE_TIMEOUT_MS", 5_000),
    sseMaxPerUser: int("RUNWAY_SSE_MAX_PER_USER", 10),
    sseMaxStreams: int("RUNWAY_SSE_MAX_STREAMS", 1000),
    sseRecheckMs: int("RUNWAY_SSE_RECHECK_MS", 30_000),
    logLevel: str("LOG_LEVEL") ?? "info",
    publicUrl: str("RUNWAY_PUBLIC_URL") ?? null,
    webhookTimeoutMs: int("RUNWAY_WEBHOOK_TIMEOUT_MS", 10_000),
    webhookRetryBaseMs: int("RUNWAY_WEBHOOK_RETRY_BASE_MS", 10_000),
    webhookRetryMaxMs: int("RUNWAY_WEBHOOK_RETRY_MAX_MS", 3_600_000),
    secretKey: str("RUNWAY_SECRET_KEY"),
    secretKeyPrevious: str("RUNWAY_SECRET_KEY_PREVIOUS"),
  };
}

const SECRET_FIELDS = ["adminPassword", "secretKey", "secretKeyPrevious"] as const;

/** The configuration as logged at start: every field, secrets masked, the database URL without its password. */
export function describeConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  for (const f of SECRET_FIELDS) if (config[f] !== undefined) out[f] = "********";
  if (config.databaseUrl) {
    try {
      const u = new URL(config.databaseUrl);
      if (u.password) u.password = "********";
      out.databaseUrl = u.toString();
    } catch {
      out.databaseUrl = "********";
    }
  }
  return out;
}
