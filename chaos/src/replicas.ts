import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { waitFor } from "./wait.js";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SERVER_DIR = path.join(REPO_ROOT, "apps/server");

export type ReplicaState = "starting" | "up" | "frozen" | "dead";

/** One replica slot: a port and, over time, a sequence of processes (generations) with their own ids. */
export interface Replica {
  slot: number;
  port: number;
  generation: number;
  id: string;
  state: ReplicaState;
  proc: ChildProcess | undefined;
  exited: Promise<void>;
  /** Set when the harness itself ends the process (kill, stop): any other exit is a crash. */
  expectExit: boolean;
  /** The process clock's offset (fault kind clock-skew; see clock-skew.ts), 0 when right. */
  clockOffsetMs: number;
}

export interface StartOptions {
  clockOffsetMs?: number;
}

const CLOCK_SKEW_PRELOAD = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), "clock-skew.ts")).href;

export interface ReplicaEnv {
  /** The control database's URL for a slot (each slot reaches it through its own fault proxy). */
  databaseUrl: string | ((slot: number) => string);
  /** Start broken-replica.ts with this kind instead of the server's own entry (the self-tests). */
  broken?: "lock" | "fencing" | "gate";
  adminPassword: string;
  env: Record<string, string>;
  logDir: string;
}

/**
 * N replicas as real server processes: the same entry point as `pnpm start` (apps/server/src/main.ts),
 * or broken-replica.ts for the self-tests, started as `node --import tsx` so that a signal reaches the
 * server itself and not a wrapper.
 */
export class ReplicaSet {
  readonly replicas: Replica[];
  /** Processes that exited without the harness ending them. */
  readonly crashes: string[] = [];

  constructor(
    private readonly cfg: ReplicaEnv,
    ports: number[],
  ) {
    this.replicas = ports.map((port, slot) => ({
      slot,
      port,
      generation: 0,
      id: "",
      state: "dead",
      proc: undefined,
      exited: Promise.resolve(),
      expectExit: false,
      clockOffsetMs: 0,
    }));
  }

  healthy(): Replica[] {
    return this.replicas.filter((r) => r.state === "up");
  }

  private startChain: Promise<unknown> = Promise.resolve();

  /**
   * Starts a new generation in the slot and waits until it answers /readyz. Restarts after kills are
   * serialized: they used to fail in their migrations when two overlapped ("Another migration is already
   * running", B4 in docs/reliability.md; chaos/repro/concurrent-migrate.ts). The first start of all slots
   * (startAll) is concurrent, which also keeps B4's fix (migrate() waits on its own lock) tested.
   */
  start(slot: number, opts: StartOptions = {}): Promise<Replica> {
    const next = this.startChain.then(() => this.startNow(slot, opts));
    this.startChain = next.catch(() => undefined);
    return next;
  }

  private async startNow(slot: number, opts: StartOptions = {}): Promise<Replica> {
    const r = this.replicas[slot]!;
    if (r.state !== "dead") throw new Error(`replica slot ${slot} is ${r.state}`);
    r.generation += 1;
    // Short ids: the executor's application_name (63 bytes) carries it whole.
    r.id = `r${slot + 1}g${r.generation}`;
    r.state = "starting";
    r.expectExit = false;
    const log = createWriteStream(path.join(this.cfg.logDir, `${r.id}.log`));
    r.clockOffsetMs = opts.clockOffsetMs ?? 0;
    const skew = r.clockOffsetMs ? ["--import", CLOCK_SKEW_PRELOAD] : [];
    const entry = this.cfg.broken ? [path.join(REPO_ROOT, "chaos/src/broken-replica.ts"), this.cfg.broken] : ["src/main.ts"];
    const proc = spawn(process.execPath, ["--import", "tsx", ...skew, ...entry], {
      cwd: SERVER_DIR,
      env: {
        ...process.env,
        ...this.cfg.env,
        DATABASE_URL: typeof this.cfg.databaseUrl === "string" ? this.cfg.databaseUrl : this.cfg.databaseUrl(slot),
        ...(r.clockOffsetMs ? { CHAOS_CLOCK_OFFSET_MS: String(r.clockOffsetMs) } : {}),
        PORT: String(r.port),
        HOST: "127.0.0.1",
        RUNWAY_REPLICA_ID: r.id,
        RUNWAY_DEMO: "0",
        RUNWAY_ADMIN_PASSWORD: this.cfg.adminPassword,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    proc.stdout?.pipe(log);
    proc.stderr?.pipe(log);
    r.proc = proc;
    const id = r.id;
    r.exited = new Promise((resolve) =>
      proc.once("exit", (code, signal) => {
        if (r.proc === proc) {
          if (!r.expectExit) this.crashes.push(`${id} exited by itself (code ${code}, signal ${signal})`);
          r.state = "dead";
        }
        resolve();
      }),
    );
    const url = `http://127.0.0.1:${r.port}/readyz`;
    await waitFor(`replica ${r.id} ready on :${r.port}`, 90_000, async () => {
      if (r.proc !== proc || r.state === "dead") throw new Error(`replica ${r.id} exited while starting (see ${r.id}.log)`);
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      return res?.status === 200;
    });
    r.state = "up";
    return r;
  }

  async startAll(): Promise<void> {
    const all = Promise.all(this.replicas.map((r) => this.startNow(r.slot)));
    this.startChain = all.catch(() => undefined);
    await all;
  }

  async kill(slot: number): Promise<void> {
    const r = this.replicas[slot]!;
    r.expectExit = true;
    r.proc?.kill("SIGCONT");
    r.proc?.kill("SIGKILL");
    await r.exited;
    r.state = "dead";
  }

  freeze(slot: number): void {
    const r = this.replicas[slot]!;
    r.proc?.kill("SIGSTOP");
    r.state = "frozen";
  }

  thaw(slot: number): void {
    const r = this.replicas[slot]!;
    if (r.state !== "frozen") return;
    r.proc?.kill("SIGCONT");
    r.state = "up";
  }

  /** Makes every slot healthy again: resumes frozen ones, starts dead ones. */
  async healAll(): Promise<void> {
    for (const r of this.replicas) this.thaw(r.slot);
    await Promise.all(this.replicas.filter((r) => r.state === "dead").map((r) => this.start(r.slot)));
  }

  /** SIGTERM (drain), SIGKILL after `graceMs`. */
  async stopAll(graceMs: number): Promise<void> {
    await Promise.all(
      this.replicas.map(async (r) => {
        if (!r.proc || r.proc.exitCode !== null || r.proc.signalCode !== null) return;
        r.expectExit = true;
        if (r.state === "frozen") r.proc.kill("SIGCONT");
        r.proc.kill("SIGTERM");
        const timer = setTimeout(() => r.proc?.kill("SIGKILL"), graceMs);
        await r.exited;
        clearTimeout(timer);
        r.state = "dead";
      }),
    );
  }

  /** Last resort, synchronous (process exit): kills whatever is still alive. */
  killAllNow(): void {
    for (const r of this.replicas) {
      if (r.proc && r.proc.exitCode === null && r.proc.signalCode === null) {
        r.expectExit = true;
        try {
          r.proc.kill("SIGCONT");
          r.proc.kill("SIGKILL");
        } catch {
          /* already gone */
        }
      }
    }
  }
}
