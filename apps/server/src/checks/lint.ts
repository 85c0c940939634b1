import { execFile } from "node:child_process";
import { constants as fsConstants, mkdirSync, writeFileSync } from "node:fs";
import fs from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import type { TaskType } from "@runway/shared";
import type { Finding, RuleSetting, Severity } from "@runway/shared/schemas";
import {
  applySettings,
  DEFAULT_RULE_SETTINGS,
  fromSquawk,
  lintParse,
  runwayFindings,
  worstOf,
  type SquawkEntry,
} from "../domain/lint-rules.js";
import { loadStatementParser } from "../domain/statements.js";

/**
 * Lints task statements with squawk (the `squawk-cli` npm package ships its binary) and Runway's own
 * rules. Batched: each distinct statement becomes one file in a temporary directory, and a few squawk
 * processes lint them all (transactional statements as if inside a transaction, the way Runway runs
 * them, the others not; each group cut into one chunk per core). A 10,000-task rollout costs a handful
 * of process starts, not 10,000.
 *
 * Linting never fails a caller: when squawk cannot run, every task still gets Runway's findings and an
 * `error` saying squawk's were not checked.
 */

export interface LintInput {
  type: TaskType;
  statement: string;
  schemaVersion?: string | null;
}

export interface LintResult {
  findings: Finding[];
  worst: Severity | null;
  error?: string;
}

export interface LintOptions {
  /** Path of the squawk binary; default: the one `squawk-cli` installed (RUNWAY_SQUAWK_BIN overrides). */
  binary?: string;
  /** The project's rule settings. */
  overrides?: Readonly<Record<string, RuleSetting>>;
  /** Bound on one squawk process; default 30 s. */
  timeoutMs?: number;
}

/** Below this many statements a second squawk process costs more than it saves. */
const MIN_CHUNK = 500;

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
    // Fall back to the launcher script: slower, but it reports what is missing.
    resolved = path.join(path.dirname(require.resolve("squawk-cli/package.json")), "js/bin/squawk");
  }
  return resolved;
}

/** Memory-backed /dev/shm when there is one (10,000 small files cost seconds on a loaded disk), else the OS temp dir. */
let scratch: Promise<string> | undefined;
function scratchDir(): Promise<string> {
  return (scratch ??= fs
    .access("/dev/shm", fsConstants.W_OK)
    .then(() => "/dev/shm")
    .catch(() => os.tmpdir()));
}

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

/**
 * squawk's findings for each distinct statement (by index into `statements`). Each group (in a
 * transaction or not) is cut into chunks of about the same size, one squawk process each, all at once: on
 * a machine with idle cores the linting takes a fraction of one process's time, and a 10,000-statement
 * rollout still starts only a handful of processes. Throws when squawk cannot run.
 */
async function squawkAll(
  statements: readonly { text: string; inTransaction: boolean }[],
  opts: { binary: string; timeoutMs: number; exclude: string[] },
): Promise<SquawkEntry[][]> {
  const out: SquawkEntry[][] = statements.map(() => []);
  if (statements.length === 0) return out;
  const dir = await fs.mkdtemp(path.join(await scratchDir(), "runway-lint-"));
  try {
    const chunk = Math.max(MIN_CHUNK, Math.ceil(statements.length / os.availableParallelism()));
    const seen = { tx: 0, no: 0 };
    const dirs = new Set<string>();
    // Synchronous writes of small files beat a promise per file by far; the event loop gets a turn every 20 ms.
    let sliceStart = performance.now();
    for (const [i, s] of statements.entries()) {
      const g = s.inTransaction ? "tx" : "no";
      const sub = `${g}${Math.floor(seen[g]++ / chunk)}`;
      if (!dirs.has(sub)) {
        mkdirSync(path.join(dir, sub));
        dirs.add(sub);
      }
      writeFileSync(path.join(dir, sub, `${i}.sql`), s.text);
      if (performance.now() - sliceStart > 20) {
        await new Promise((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
    // Rules that are off are not reported at all (less JSON to write and read).
    const common = ["--reporter", "json", ...(opts.exclude.length > 0 ? [`--exclude=${opts.exclude.join(",")}`] : [])];
    // squawk expands the pattern itself: the command line stays short whatever the number of files.
    const runs = [...dirs].map((sub) =>
      runSquawk(
        opts.binary,
        [...common, ...(sub.startsWith("tx") ? ["--assume-in-transaction"] : []), `${sub}/*.sql`],
        dir,
        opts.timeoutMs,
      ),
    );
    for (const entries of await Promise.all(runs)) {
      for (const e of entries) {
        const index = Number(path.basename(e.file, ".sql"));
        out[index]?.push(e);
      }
    }
    return out;
  } finally {
    // Not awaited: removing 10,000 files is nobody's wait.
    void fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** squawk's rules that Runway's defaults or the project's settings turn off. */
function rulesOff(overrides: Readonly<Record<string, RuleSetting>>): string[] {
  const all = { ...DEFAULT_RULE_SETTINGS, ...overrides };
  return Object.keys(all).filter((rule) => all[rule] === "off" && /^[a-z0-9-]+$/.test(rule) && !rule.startsWith("runway-"));
}

/** Lints every task; identical tasks (same type class, statement and version presence) are linted once. */
export async function lintTasks(tasks: readonly LintInput[], opts: LintOptions = {}): Promise<LintResult[]> {
  await loadStatementParser(); // loaded on first use, not at start-up (issue 20)
  const keyOf = (t: LintInput) => `${t.type}\u0000${t.schemaVersion ? "v" : "-"}\u0000${t.statement}`;
  const distinct = new Map<string, { task: LintInput; index: number }>();
  for (const t of tasks) if (!distinct.has(keyOf(t))) distinct.set(keyOf(t), { task: t, index: distinct.size });
  const list = [...distinct.values()].map((d) => d.task);
  // Parsing a 16 MiB body takes seconds: hand the event loop back every 20 ms (heartbeats, requests).
  const parses: ReturnType<typeof lintParse>[] = [];
  let sliceStart = performance.now();
  for (const t of list) {
    parses.push(lintParse(t));
    if (performance.now() - sliceStart > 20) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
  const texts = list.map((t, i) => ({ text: t.statement, inTransaction: parses[i]!.inTransaction }));
  // Statements without SQL of their own (DATABASE_CREATE) are not given to squawk.
  const lintable = list.map((t) => t.statement.trim() !== "");
  let squawked: SquawkEntry[][] | undefined;
  let error: string | undefined;
  try {
    const indexes = texts.flatMap((_, i) => (lintable[i] ? [i] : []));
    const found = await squawkAll(
      indexes.map((i) => texts[i]!),
      { binary: opts.binary ?? squawkBinary(), timeoutMs: opts.timeoutMs ?? 30_000, exclude: rulesOff(opts.overrides ?? {}) },
    );
    squawked = list.map(() => []);
    indexes.forEach((i, k) => (squawked![i] = found[k]!));
  } catch (e) {
    error = (e as Error).message;
  }
  const overrides = opts.overrides ?? {};
  const results = list.map((t, i): LintResult => {
    const findings = applySettings([...fromSquawk(t.statement, squawked?.[i] ?? []), ...runwayFindings(t, parses[i]!.parsed)], overrides);
    return { findings, worst: worstOf(findings), ...(error ? { error } : {}) };
  });
  return tasks.map((t) => results[distinct.get(keyOf(t))!.index]!);
}

/**
 * Lints a new rollout's tasks with its project's rule settings, for rolloutCreate. Never rejects: when even
 * the settings cannot be read, every task records why it was not linted.
 */
export async function lintForCreate(
  readSettings: () => Promise<Readonly<Record<string, RuleSetting>>>,
  tasks: readonly LintInput[],
  opts: Omit<LintOptions, "overrides"> = {},
): Promise<LintResult[]> {
  try {
    return await lintTasks(tasks, { ...opts, overrides: await readSettings() });
  } catch (e) {
    const error = `not linted: ${(e as Error).message}`;
    return tasks.map(() => ({ findings: [], worst: null, error }));
  }
}
