import { execFile } from "node:child_process";
import { accessSync, constants as fsConstants, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import fs from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { LRUCache } from "lru-cache";
import type { SquawkEntry } from "../domain/lint-rules.js";

/**
 * Runs squawk (the `squawk-cli` npm package ships its binary) over many statements at once, for
 * checks/lint.ts. Statements are fed one by one while the caller parses them; each becomes a file in a
 * scratch directory, and as soon as a chunk of files is complete a squawk process lints it (at most one
 * process per core at a time). So squawk works on the first chunks while later statements are still
 * parsed and written, and a 10,000-statement rollout costs a handful of process starts, not 10,000.
 *
 * squawk's report for a statement depends only on its text, whether it runs in a transaction, the rules
 * turned off and the binary: recent reports are kept in memory, so a statement linted before (the same
 * release file in the next rollout, a re-lint) costs no squawk time at all.
 */

export interface SquawkOptions {
  binary: string;
  /** Bound on one squawk process. */
  timeoutMs: number;
  /** squawk rules not to report at all (less JSON to write and read). */
  exclude: string[];
  /** How many statements the caller may add (sizes the chunks). */
  expected: number;
}

/** Below this many statements a further squawk process costs more than it saves. */
const MIN_CHUNK = 250;

let resolved: string | undefined;
/** The platform binary `squawk-cli` installed (its own launcher would cost a Node start per call). */
export function squawkBinary(): string {
  if (process.env.RUNWAY_SQUAWK_BIN) return process.env.RUNWAY_SQUAWK_BIN;
  if (resolved) return resolved;
  const require = createRequire(import.meta.url);
  try {
    const launcher = require(require.resolve("squawk-cli/js/index.js")) as { getBinaryPath(): string };
    resolved = launcher.getBinaryPath();
  } catch {
    try {
      // Fall back to the launcher script: slower, but it reports what is missing.
      resolved = path.join(path.dirname(require.resolve("squawk-cli/package.json")), "js/bin/squawk");
    } catch {
      // Not installed at all: a `squawk` on PATH, else each lint says squawk could not run (never a throw here).
      resolved = "squawk";
    }
  }
  return resolved;
}

/** Memory-backed /dev/shm when there is one (10,000 small files cost seconds on a loaded disk), else the OS temp dir. */
let scratch: string | undefined;
function scratchDir(): string {
  if (scratch) return scratch;
  try {
    accessSync("/dev/shm", fsConstants.W_OK);
    scratch = "/dev/shm";
  } catch {
    scratch = os.tmpdir();
  }
  return scratch;
}

/** Recent squawk reports by binary, rules off, transaction mode and text; reports are never mutated. */
const recentReports = new LRUCache<string, readonly SquawkEntry[]>({
  maxSize: 64 * 1024 * 1024,
  sizeCalculation: (entries, key) => 2 * key.length + 100 + entries.length * 800,
});

function runSquawk(binary: string, args: string[], cwd: string, timeoutMs: number): Promise<SquawkEntry[]> {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { cwd, timeout: timeoutMs, maxBuffer: 512 * 1024 * 1024 }, (err, stdout, stderr) => {
      // Exit status 1 means findings; the JSON report is on stdout either way.
      if (err && typeof err.code !== "number") return reject(new Error(`squawk could not run: ${err.message}`));
      try {
        resolve(stdout.trim() === "" ? [] : (JSON.parse(stdout) as SquawkEntry[]));
      } catch {
        reject(new Error(`squawk could not run: ${(stderr || stdout).slice(0, 500)}`));
      }
    });
  });
}

interface Chunk {
  name: string;
  inTransaction: boolean;
  slots: number[];
}

/**
 * One batch of statements for squawk: `add` each statement (synchronous, cheap), then `done` for every
 * statement's report, by the slot `add` returned. `done` rejects when squawk could not run.
 */
export class SquawkBatch {
  private readonly reports: (readonly SquawkEntry[] | undefined)[] = [];
  private readonly keys: string[] = [];
  private readonly slotOf = new Map<string, number>();
  private readonly open: Record<"tx" | "no", Chunk | undefined> = { tx: undefined, no: undefined };
  private readonly waiting: Chunk[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly chunkSize: number;
  private readonly parallel = os.availableParallelism();
  private readonly common: string[];
  private dir: string | undefined;
  private chunks = 0;
  private failure: Error | undefined;

  constructor(private readonly opts: SquawkOptions) {
    // About two chunks per core: squawk starts on the first while the rest are still being written.
    this.chunkSize = Math.max(MIN_CHUNK, Math.ceil(opts.expected / (2 * this.parallel)));
    this.common = ["--reporter", "json", ...(opts.exclude.length > 0 ? [`--exclude=${opts.exclude.join(",")}`] : [])];
  }

  /** Queues one statement; the same text and mode added twice shares one slot. */
  add(text: string, inTransaction: boolean): number {
    const key = `${this.opts.binary}\u0000${this.common.join(" ")}\u0000${inTransaction ? "t" : "n"}\u0000${text}`;
    const known = this.slotOf.get(key);
    if (known !== undefined) return known;
    const slot = this.keys.length;
    this.slotOf.set(key, slot);
    this.keys.push(key);
    this.reports.push(recentReports.get(key));
    if (this.reports[slot] !== undefined || this.failure) return slot;
    try {
      const group = inTransaction ? "tx" : "no";
      const dir = (this.dir ??= mkdtempSync(path.join(scratchDir(), "runway-lint-")));
      let chunk = this.open[group];
      if (!chunk) {
        chunk = this.open[group] = { name: `c${this.chunks++}`, inTransaction, slots: [] };
        mkdirSync(path.join(dir, chunk.name));
      }
      writeFileSync(path.join(dir, chunk.name, `${slot}.sql`), text);
      chunk.slots.push(slot);
      if (chunk.slots.length >= this.chunkSize) {
        this.open[group] = undefined;
        this.schedule(chunk);
      }
    } catch (e) {
      this.failure = new Error(`squawk could not run: ${(e as Error).message}`);
    }
    return slot;
  }

  /** Every added statement's report by slot, once the last chunks are linted. */
  async done(): Promise<(readonly SquawkEntry[])[]> {
    try {
      for (const group of ["tx", "no"] as const) {
        const chunk = this.open[group];
        this.open[group] = undefined;
        if (chunk && !this.failure) this.schedule(chunk);
      }
      while (this.running.size > 0) await Promise.all(this.running);
      if (this.failure) throw this.failure;
      return this.reports.map((r) => r ?? []);
    } finally {
      // Not awaited: removing 10,000 files is nobody's wait.
      if (this.dir) void fs.rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /** Starts the chunk now, or when a running process ends (one per core). */
  private schedule(chunk: Chunk): void {
    this.waiting.push(chunk);
    this.startWaiting();
  }

  private startWaiting(): void {
    while (this.running.size < this.parallel && this.waiting.length > 0 && !this.failure) {
      const chunk = this.waiting.shift()!;
      const p: Promise<void> = this.lint(chunk)
        .catch((e: unknown) => {
          this.failure ??= e as Error;
        })
        .finally(() => {
          this.running.delete(p);
          this.startWaiting();
        });
      this.running.add(p);
    }
  }

  private async lint(chunk: Chunk): Promise<void> {
    // squawk expands the pattern itself: the command line stays short whatever the number of files.
    const args = [...this.common, ...(chunk.inTransaction ? ["--assume-in-transaction"] : []), `${chunk.name}/*.sql`];
    const entries = await runSquawk(this.opts.binary, args, this.dir!, this.opts.timeoutMs);
    const found = new Map<number, SquawkEntry[]>();
    for (const e of entries) {
      const slot = Number(path.basename(e.file, ".sql"));
      let list = found.get(slot);
      if (!list) found.set(slot, (list = []));
      list.push(e);
    }
    for (const slot of chunk.slots) {
      const report = found.get(slot) ?? [];
      this.reports[slot] = report;
      recentReports.set(this.keys[slot]!, report);
    }
  }
}
