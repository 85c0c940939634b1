import os from "node:os";
import path from "node:path";
import { promises as fs } from "node:fs";
import pg from "pg";
import { freePort, migrate, startEmbeddedPostgres, withDatabase, type EmbeddedHandle } from "@runway/server/db";

/** One PostgreSQL for a benchmark run: DATABASE_URL when set, else an embedded one under the OS temp dir. */
export interface BenchPg {
  serverUrl: string;
  /** A fresh, migrated control database. */
  freshDatabase(name: string): Promise<string>;
  /** A fresh database without Runway's schema (other queues' own schemas, target databases), owned by `owner`. */
  emptyDatabase(name: string, owner?: string): Promise<string>;
  /**
   * The server as a non-superuser role that may own target databases: Runway refuses targets that reach
   * its control server as a superuser (docs/security.md). Created on first call.
   */
  targetRoleUrl(): Promise<string>;
  /** A copy of `template` (which must have no open connections): a prepared workload in a second or two. */
  cloneDatabase(name: string, template: string): Promise<string>;
  stop(): Promise<void>;
}

const TARGET_ROLE = "bench_target";

/**
 * Control-pool bounds for a benchmark's own Runway pool (createPool): statement timeouts raised so that a full
 * pass at 1M pending runs is measured rather than cut.
 */
export const BENCH_CONTROL_BOUNDS = {
  statementTimeoutMs: 600_000,
  queryTimeoutMs: 605_000,
  connectTimeoutMs: 10_000,
  keepAliveInitialDelayMs: 10_000,
};

/** The benchmark's embedded server settings (the diagnostics' servers, bench/lib/profile.ts, use them too). */
export const BENCH_PG_SETTINGS = { fsync: "off", synchronous_commit: "off", shared_buffers: "512MB", work_mem: "32MB" };

export async function startBenchPg(extraSettings: Record<string, string> = {}): Promise<BenchPg> {
  let embedded: EmbeddedHandle | undefined;
  let dataDir: string | undefined;
  let serverUrl = process.env.DATABASE_URL;
  // BENCH_PG_DIR: an embedded cluster kept in that directory between runs (e.g. the releases step's 1,000
  // tenant databases). Unlike DATABASE_URL it runs as this process's child, so node bench/tools/measure.mjs gives it
  // the machine too instead of renicing it with everything else.
  const keptDir = process.env.BENCH_PG_DIR;
  if (!serverUrl) {
    dataDir = keptDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), "runway-bench-pg-")));
    embedded = await startEmbeddedPostgres({
      dataDir,
      port: await freePort(),
      persistent: keptDir !== undefined,
      settings: { ...BENCH_PG_SETTINGS, ...extraSettings },
    });
    serverUrl = embedded.url;
  }
  const url = serverUrl;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  return {
    serverUrl: url,
    async freshDatabase(name) {
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin(`CREATE DATABASE ${name}`);
      // Only Runway's own role may connect: a target role on this server must not reach the control database.
      await admin(`REVOKE CONNECT, TEMPORARY ON DATABASE ${name} FROM PUBLIC`);
      const dbUrl = withDatabase(url, name);
      await migrate(dbUrl);
      return dbUrl;
    },
    async emptyDatabase(name, owner) {
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin(`CREATE DATABASE ${name}${owner ? ` OWNER ${owner}` : ""}`);
      return withDatabase(url, name);
    },
    async targetRoleUrl() {
      await admin(
        `DO $$ BEGIN CREATE ROLE ${TARGET_ROLE} LOGIN CREATEDB PASSWORD '${TARGET_ROLE}'; EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
      );
      const u = new URL(url);
      u.username = TARGET_ROLE;
      u.password = TARGET_ROLE;
      return u.toString();
    },
    async cloneDatabase(name, template) {
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin(`CREATE DATABASE ${name} TEMPLATE ${template}`);
      return withDatabase(url, name);
    },
    async stop() {
      await embedded?.stop();
      if (dataDir && !keptDir) await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function writeResult(name: string, data: unknown): Promise<string> {
  const dir = path.join(path.dirname(new URL(import.meta.url).pathname), "..", "results");
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  await fs.writeFile(file, JSON.stringify(data, null, 2) + "\n");
  return file;
}

export async function machineInfo(): Promise<Record<string, unknown>> {
  const { execSync } = await import("node:child_process");
  let commit = "unknown";
  // Uncommitted changes mean the numbers describe more than the commit named.
  let dirty: boolean | undefined;
  try {
    commit = execSync("git rev-parse --short HEAD", { encoding: "utf8" }).trim();
    // The benchmark's own outputs (results, the regenerated docs) do not make the measured code dirty.
    dirty =
      execSync("git status --porcelain --untracked-files=no -- ':(top)' ':(top,exclude)bench/results' ':(top,exclude)docs/benchmarks.md'", {
        encoding: "utf8",
      }).trim() !== "";
  } catch {
    /* not a git checkout */
  }
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    commit,
    ...(dirty !== undefined ? { uncommittedChanges: dirty } : {}),
    loadAverage: os.loadavg().map((x) => Number(x.toFixed(2))),
    at: new Date().toISOString(),
  };
}

/**
 * Runs a benchmark step and exits explicitly: the results are written, and a third-party library's
 * leftover timer must not hold the suite (a 20,000-job throughput run once stayed alive with two timers
 * and no sockets after writing).
 */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
