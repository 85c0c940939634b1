/**
 * Starts the real Runway server (apps/server/src/main.ts through tsx) with its embedded PostgreSQL in a
 * fresh directory under the OS temp dir, on free ports, and stops it again.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const ADMIN_PASSWORD = "e2e-admin-password";

export interface RunningServer {
  url: string;
  pgPort: number;
  /** Connection URL of the embedded PostgreSQL, usable as a Runway instance (tasks run against it). */
  pgUrl: string;
  dataDir: string;
  log: () => string;
  stop: () => Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitReady(url: string, child: ChildProcess, log: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.once("exit", () => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`server exited before it was ready:\n${log().slice(-20_000)}`);
    const ok = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    // Poll the condition (readiness), not a fixed delay for state.
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server not ready after ${timeoutMs} ms:\n${log().slice(-20_000)}`);
}

export async function startServer(env: Record<string, string> = {}): Promise<RunningServer> {
  const [port, pgPort] = [await freePort(), await freePort()];
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "runway-e2e-"));
  const serverDir = path.join(REPO_ROOT, "apps/server");
  const tsx = path.join(serverDir, "node_modules/.bin/tsx");
  let output = "";
  const child = spawn(tsx, ["src/main.ts"], {
    cwd: serverDir,
    env: {
      ...process.env,
      DATABASE_URL: "",
      RUNWAY_DATA_DIR: dataDir,
      PORT: String(port),
      RUNWAY_PG_PORT: String(pgPort),
      RUNWAY_ADMIN_PASSWORD: ADMIN_PASSWORD,
      RUNWAY_DEMO: "0",
      RUNWAY_LOGIN_RATE_LIMIT: "10000",
      RUNWAY_DRAIN_GRACE_MS: "0",
      LOG_LEVEL: "warn",
      // The background listing would refresh a group's ledger snapshots whenever it comes due, so a spec could
      // not know whether a preview reads its targets or snapshots (releases.spec.ts asserts which). Planning
      // still lists the instances it names at once; only the periodic round is pushed past any run's length.
      RUNWAY_INSTANCE_LISTING_INTERVAL_MS: String(24 * 3600 * 1000),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout!.on("data", (b: Buffer) => (output += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (output += b.toString()));
  const url = `http://127.0.0.1:${port}`;
  const log = () => output;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.pid && process.kill(-child.pid, "SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitReady(url, child, log, 180_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, pgPort, pgUrl: `postgres://postgres:runway@127.0.0.1:${pgPort}/postgres`, dataDir, log, stop };
}
