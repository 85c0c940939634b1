/**
 * Every setting of a replica, once: its environment variable, how it is read and checked, its default and
 * what it means. `loadConfig` reads through this table, `--help` prints it, and README.md's configuration
 * table is checked against it by a test (test/config.test.ts), so the three cannot drift apart.
 */
export type SettingKind =
  | { type: "int"; min: number; max?: number; unit?: string }
  | { type: "enum"; values: readonly string[] }
  | { type: "string" }
  | { type: "url"; protocols: readonly string[] }
  | { type: "base64-key" }
  | { type: "trust-proxy" };

export interface Setting {
  env: string;
  kind: SettingKind;
  /** As shown in README and --help. */
  shownDefault: string;
  description: string;
  /** Never printed: masked in the start-up log. */
  secret?: boolean;
  /** Read only by a command other than the server (shown, not validated at server start). */
  commandOnly?: boolean;
}

const int = (min: number, max?: number, unit?: string): SettingKind => ({ type: "int", min, max, unit });
const MS = "ms";
const DAY_MS = 24 * 3600 * 1000;

export const SETTINGS: readonly Setting[] = [
  {
    env: "DATABASE_URL",
    kind: { type: "url", protocols: ["postgres:", "postgresql:"] },
    shownDefault: "—",
    secret: true,
    description: "Control-plane PostgreSQL. Without it, an embedded PostgreSQL is started.",
  },
  {
    env: "RUNWAY_DATA_DIR",
    kind: { type: "string" },
    shownDefault: "`.runway/` in the repo",
    description: "Data directory of the embedded PostgreSQL (persists across restarts).",
  },
  { env: "RUNWAY_PG_PORT", kind: int(1, 65535), shownDefault: "`54329`", description: "Port of the embedded PostgreSQL." },
  { env: "PORT", kind: int(0, 65535), shownDefault: "`8080`", description: "HTTP port." },
  { env: "HOST", kind: { type: "string" }, shownDefault: "`127.0.0.1`", description: "HTTP bind address." },
  {
    env: "RUNWAY_REPLICA_ID",
    kind: { type: "string" },
    shownDefault: "`<hostname>-<pid>-<random>`",
    description: "Name of this replica in leases, logs and metrics.",
  },
  {
    env: "RUNWAY_CONCURRENCY",
    kind: int(1, 1000),
    shownDefault: "`8`",
    description: "Executor slots per replica (runs executed at once).",
  },
  {
    env: "RUNWAY_CLAIM_AHEAD",
    kind: int(0, 1000),
    shownDefault: "twice `RUNWAY_CONCURRENCY`",
    description:
      "Runs a replica claims beyond its free slots while its runs are quick (a mean under 50 ms, none executing longer): each starts as a slot frees, without waiting for the claim's round trip; one still without a slot 200 ms after its claim is given back. `0`: claim only free slots.",
  },
  {
    env: "RUNWAY_POLL_INTERVAL_MS",
    kind: int(10, 3_600_000, MS),
    shownDefault: "`1000`",
    description: "Backstop poll of the scheduler loops (jittered ±20%); NOTIFY wakes them at once.",
  },
  {
    env: "RUNWAY_LEASE_TTL_MS",
    kind: int(100, DAY_MS * 30, MS),
    shownDefault: "`15000`",
    description: "Lease of a RUNNING run; renewed by the heartbeat.",
  },
  {
    env: "RUNWAY_HEARTBEAT_INTERVAL_MS",
    kind: int(10, 3_600_000, MS),
    shownDefault: "`3000`",
    description: "Replica heartbeat and lease renewal interval.",
  },
  {
    env: "RUNWAY_SWEEP_INTERVAL_MS",
    kind: int(10, 3_600_000, MS),
    shownDefault: "`2000`",
    description: "How often a replica tries to sweep expired leases.",
  },
  {
    env: "RUNWAY_FULL_PASS_INTERVAL_MS",
    kind: int(1000, DAY_MS, MS),
    shownDefault: "`300000`",
    description: "Safety-net full gating pass interval.",
  },
  {
    env: "RUNWAY_FULL_PASS_BATCH",
    kind: int(1, 1_000_000),
    shownDefault: "`10000`",
    description:
      "PENDING runs a full gating pass reads and decides at a time: its memory follows this, not the backlog. After each batch that promoted runs the pass commits (holding its lock), so those runs start while it decides the rest.",
  },
  {
    env: "RUNWAY_FULL_PASS_FIRST_BATCH",
    kind: int(1, 1_000_000),
    shownDefault: "`1000`",
    description:
      "The size of a full gating pass's first batch; each batch after it is twice as large, up to `RUNWAY_FULL_PASS_BATCH`. Small, so that the first runs a pass promotes (after a start, or over a large backlog) are committed and start early.",
  },
  {
    env: "RUNWAY_INSTANCE_LISTING_INTERVAL_MS",
    kind: int(10_000, DAY_MS, MS),
    shownDefault: "`300000`",
    description:
      "How often each database instance's list of databases is read again (database groups count from it), and with it the ledger snapshots of the databases its groups name. A release's preview or create lists the instances it names at once, and an instance is listed as soon as it is added or its connection URL changes.",
  },
  {
    env: "RUNWAY_LEDGER_SNAPSHOT_MAX_AGE_MS",
    kind: int(0, DAY_MS, MS),
    shownDefault: "`300000`",
    description:
      "How old a target's ledger snapshot may be for creating a rollout from a release; older ones are read again on the target (0 = always). Previews use any snapshot and show its age.",
  },
  {
    env: "RUNWAY_STATEMENT_TIMEOUT_MS",
    kind: int(0, DAY_MS * 7, MS),
    shownDefault: "`3600000`",
    description: "`statement_timeout` for target statements (0 = none).",
  },
  {
    env: "RUNWAY_DRAIN_GRACE_MS",
    kind: int(0, 3_600_000, MS),
    shownDefault: "`30000`",
    description: "On SIGTERM, how long running tasks may finish before they are aborted and released.",
  },
  {
    env: "RUNWAY_TARGET_RETRY_S",
    kind: int(0, 7 * 24 * 3600, "s"),
    shownDefault: "`600`",
    description:
      "How long a run whose target cannot be reached (refused or dropped before COMMIT) is retried, with a backoff of 1 s doubling to 60 s, before it FAILs (once the window has passed and the target has failed as many attempts as the backoff makes in it). Also how long the ledger row of a statement run outside a transaction (already applied) is written again when writing it fails.",
  },
  {
    env: "RUNWAY_SQUAWK_BIN",
    kind: { type: "string" },
    shownDefault: "the `squawk-cli` package's binary",
    description:
      "The squawk binary that lints task statements (docs/checks.md). When it cannot run, rollouts are still created and their checks say so.",
  },
  {
    env: "RUNWAY_DEMO",
    kind: { type: "enum", values: ["1", "0", "true", "false"] },
    shownDefault: "`1`",
    description: "`0` skips seeding the demo on first start (same as `--no-demo`).",
  },
  {
    env: "RUNWAY_ADMIN_PASSWORD",
    kind: { type: "string" },
    shownDefault: "generated",
    secret: true,
    description: "Password of the `admin` user created on first start.",
  },
  {
    env: "RUNWAY_SESSION_TTL_MS",
    kind: int(60_000, DAY_MS * 365, MS),
    shownDefault: "`43200000`",
    description: "Dashboard session lifetime.",
  },
  {
    env: "RUNWAY_LOGIN_RATE_LIMIT",
    kind: int(1, 1_000_000),
    shownDefault: "`10`",
    description:
      "Failed sign-ins allowed per username and client address before waits begin (30 s, doubling to 15 min); five times as many per address across usernames. Only failures count; shared by all replicas.",
  },
  {
    env: "RUNWAY_TRUST_PROXY",
    kind: { type: "trust-proxy" },
    shownDefault: "off",
    description:
      "Behind a reverse proxy: `1` (trust the nearest proxy; a number = that many hops), `true` (any), or a comma-separated list of proxy addresses/CIDRs. The client address (sign-in limits, audit log) then comes from `X-Forwarded-For`, and `X-Forwarded-Proto: https` makes the session cookie `Secure` and turns on HSTS. Leave unset when clients reach Runway directly.",
  },
  {
    env: "RUNWAY_REQUEST_TIMEOUT_MS",
    kind: int(1000, 3_600_000, MS),
    shownDefault: "`30000`",
    description: "Time a client has to send a whole request (headers and body); then 408 and the connection closes.",
  },
  {
    env: "RUNWAY_HEADERS_TIMEOUT_MS",
    kind: int(1000, 3_600_000, MS),
    shownDefault: "`10000`",
    description: "Time a client has to send the request headers (at most the request timeout).",
  },
  {
    env: "RUNWAY_KEEP_ALIVE_TIMEOUT_MS",
    kind: int(1000, 3_600_000, MS),
    shownDefault: "`5000`",
    description: "How long an idle keep-alive connection stays open between requests.",
  },
  {
    env: "RUNWAY_SSE_MAX_PER_USER",
    kind: int(1, 100_000),
    shownDefault: "`10`",
    description: "Open event streams (`GET /events`) per user on one replica; past it, 429.",
  },
  {
    env: "RUNWAY_SSE_MAX_STREAMS",
    kind: int(1, 1_000_000),
    shownDefault: "`1000`",
    description: "Open event streams in total on one replica; past it, 429.",
  },
  {
    env: "RUNWAY_SSE_RECHECK_MS",
    kind: int(100, DAY_MS, MS),
    shownDefault: "`30000`",
    description:
      "How often an open event stream's session or token is checked again (expiry). Sign-out, disable, role change and token revocation end streams at once.",
  },
  {
    env: "RUNWAY_SECRET_KEY",
    kind: { type: "base64-key" },
    shownDefault: "key file",
    secret: true,
    description:
      "32 random bytes in base64 (`openssl rand -base64 32`) that encrypt instance passwords; the same on every replica. Without it: `secret.key` (mode 0600) in `RUNWAY_DATA_DIR`, created on first start. A replica with the wrong key refuses to start.",
  },
  {
    env: "RUNWAY_SECRET_KEY_PREVIOUS",
    kind: { type: "base64-key" },
    shownDefault: "—",
    secret: true,
    description: "During a key rotation: the old key (decrypts, never encrypts). See [docs/security.md](docs/security.md).",
  },
  {
    env: "RUNWAY_NEW_SECRET_KEY",
    kind: { type: "base64-key" },
    shownDefault: "generated",
    secret: true,
    commandOnly: true,
    description: "Only for `pnpm --filter @runway/server rotate-key`: the key to re-encrypt everything under.",
  },
  {
    env: "RUNWAY_PUBLIC_URL",
    kind: { type: "url", protocols: ["http:", "https:"] },
    shownDefault: "—",
    description:
      "The dashboard's address as people reach it (e.g. `https://runway.example.com`); webhook messages link to the rollout there. Without it, messages carry no link.",
  },
  {
    env: "RUNWAY_WEBHOOK_TIMEOUT_MS",
    kind: int(100, 300_000, MS),
    shownDefault: "`10000`",
    description: "One webhook delivery attempt's bound (connect, send, answer); a claimed delivery's lease is three times this.",
  },
  {
    env: "RUNWAY_WEBHOOK_RETRY_BASE_MS",
    kind: int(10, DAY_MS, MS),
    shownDefault: "`10000`",
    description: "First retry of a failed webhook delivery; doubling per attempt, for up to 24 h after the event.",
  },
  {
    env: "RUNWAY_WEBHOOK_RETRY_MAX_MS",
    kind: int(10, DAY_MS, MS),
    shownDefault: "`3600000`",
    description: "Longest gap between two attempts of a webhook delivery.",
  },
  {
    env: "LOG_LEVEL",
    kind: { type: "enum", values: ["fatal", "error", "warn", "info", "debug", "trace", "silent"] },
    shownDefault: "`info`",
    description: "pino log level.",
  },
];
