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
import { SquawkBatch, squawkBinary } from "./squawk.js";

/**
 * Lints task statements with squawk and Runway's own rules. Batched (checks/squawk.ts): each distinct
 * statement is handed to squawk as soon as it is parsed, transactional statements linted as if inside a
 * transaction (the way Runway runs them), the others not; squawk works on the first chunks while the rest
 * are parsed, and statements it reported on recently are not given to it again.
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

/** squawk's rules that Runway's defaults or the project's settings turn off. */
function rulesOff(overrides: Readonly<Record<string, RuleSetting>>): string[] {
  const all = { ...DEFAULT_RULE_SETTINGS, ...overrides };
  return Object.keys(all).filter((rule) => all[rule] === "off" && /^[a-z0-9-]+$/.test(rule) && !rule.startsWith("runway-"));
}

/** Lints every task; identical tasks (same type class, statement and version presence) are linted once. */
export async function lintTasks(tasks: readonly LintInput[], opts: LintOptions = {}): Promise<LintResult[]> {
  await loadStatementParser(); // loaded on first use, not at start-up (issue 20)
  const overrides = opts.overrides ?? {};
  const batch = new SquawkBatch({
    binary: opts.binary ?? squawkBinary(),
    timeoutMs: opts.timeoutMs ?? 30_000,
    exclude: rulesOff(overrides),
    expected: tasks.length,
  });
  const keyOf = (t: LintInput) => `${t.type}\u0000${t.schemaVersion ? "v" : "-"}\u0000${t.statement}`;
  const distinct = new Map<string, number>();
  const list: { task: LintInput; parse: ReturnType<typeof lintParse>; slot: number | null }[] = [];
  const indexes: number[] = [];
  // Parsing a 16 MiB body takes seconds: hand the event loop back every 20 ms (heartbeats, requests, squawk's output).
  let sliceStart = performance.now();
  for (const t of tasks) {
    const key = keyOf(t);
    let i = distinct.get(key);
    if (i === undefined) {
      distinct.set(key, (i = list.length));
      const parse = lintParse(t);
      // Statements without SQL of their own (DATABASE_CREATE) are not given to squawk.
      list.push({ task: t, parse, slot: t.statement.trim() === "" ? null : batch.add(t.statement, parse.inTransaction) });
      if (performance.now() - sliceStart > 20) {
        await new Promise((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
    indexes.push(i);
  }
  let squawked: (readonly SquawkEntry[])[] | undefined;
  let error: string | undefined;
  try {
    squawked = await batch.done();
  } catch (e) {
    error = (e as Error).message;
  }
  const results = list.map(({ task, parse, slot }): LintResult => {
    const fromSquawkReport = slot === null || !squawked ? [] : fromSquawk(task.statement, squawked[slot]!);
    const findings = applySettings([...fromSquawkReport, ...runwayFindings(task, parse.parsed)], overrides);
    return { findings, worst: worstOf(findings), ...(error ? { error } : {}) };
  });
  // Tasks sharing a result share the object: the store writes each distinct result once.
  return indexes.map((i) => results[i]!);
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
