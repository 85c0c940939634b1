import { isSequentialTaskType, TaskType } from "@runway/shared";
import type { Finding, RuleSetting, Severity } from "@runway/shared/schemas";
import { parseStatements, StatementKind, type ParsedStatement } from "./statements.js";

/**
 * Lint rules as data, and the mapping of squawk's JSON report onto a task's statement. Pure: no I/O, no
 * clock. checks/lint.ts runs squawk; this file decides what its findings mean for Runway.
 */

/** One entry of `squawk --reporter json` (line, column: 0-based; column_end on line_end). */
export interface SquawkEntry {
  file: string;
  line: number;
  column: number;
  line_end?: number;
  column_end?: number;
  level: string;
  message: string;
  help?: string | null;
  rule_name: string;
}

export const RunwayRule = {
  /** A sequential schema change without a schema version: nothing orders it against other versions. */
  SEQUENTIAL_WITHOUT_VERSION: "runway-sequential-without-version",
  /** Transactional and non-transactional parts in one task (creation refuses it; kept for re-lints). */
  MIXED_TRANSACTION: "runway-mixed-transaction",
  /** Runs outside a transaction: not re-runnable after a replica dies, and cannot be dry-run. */
  NO_TRANSACTION: "runway-no-transaction",
} as const;

/**
 * Runway's defaults for squawk's rules, before the project's own settings. Runway sets statement_timeout
 * on every target session, so squawk's demand for one in the file is noise; its ledger makes a re-run of
 * a transactional task safe, so "not re-runnable" style advice is informational.
 */
export const DEFAULT_RULE_SETTINGS: Readonly<Record<string, RuleSetting>> = {
  "require-statement-timeout": "off",
  "require-lock-timeout": "info",
  "prefer-robust-stmts": "info",
  "prefer-bigint-over-int": "info",
  "prefer-bigint-over-smallint": "info",
  "prefer-identity": "info",
  "prefer-text-field": "info",
  "prefer-timestamptz": "info",
};

const RANK: Record<Severity, number> = { error: 3, warning: 2, info: 1 };

export function worstOf(findings: readonly Pick<Finding, "severity">[]): Severity | null {
  let worst: Severity | null = null;
  for (const f of findings) if (!worst || RANK[f.severity] > RANK[worst]) worst = f.severity;
  return worst;
}

/** squawk's level ("Error", "Warning", …) as a severity. */
export function severityOf(level: string): Severity {
  const l = level.toLowerCase();
  return l === "error" ? "error" : l === "warning" ? "warning" : "info";
}

/** Start offsets (in code points) of each line of `text`. */
function lineStarts(text: string): number[] {
  const starts = [0];
  let i = 0;
  for (const ch of text) {
    i++;
    if (ch === "\n") starts.push(i);
  }
  return starts;
}

/**
 * squawk's 0-based line/column as Runway's 1-based position and length in the statement. Columns count
 * characters on the line; a finding spanning lines is measured to the end of its last line's column.
 */
export function positionOf(
  statement: string,
  e: Pick<SquawkEntry, "line" | "column" | "line_end" | "column_end">,
  starts = lineStarts(statement),
): {
  position?: number;
  length?: number;
} {
  const start = starts[e.line];
  if (start === undefined) return {};
  const position = start + e.column + 1;
  const endLine = starts[e.line_end ?? e.line];
  if (endLine === undefined || e.column_end === undefined) return { position };
  return { position, length: Math.max(0, endLine + e.column_end - (position - 1)) };
}

/** squawk's entries for one statement as findings (before settings). */
export function fromSquawk(statement: string, entries: readonly SquawkEntry[]): Finding[] {
  if (entries.length === 0) return [];
  const starts = lineStarts(statement);
  return entries.map((e) => ({
    rule: e.rule_name,
    severity: severityOf(e.level),
    message: e.message,
    ...(e.help ? { help: e.help } : {}),
    ...positionOf(statement, e, starts),
    source: "squawk" as const,
  }));
}

/** The statement parsed once for linting (null: it does not parse), and whether Runway runs it in a transaction. */
export function lintParse(task: { type: TaskType; statement: string }): { parsed: ParsedStatement[] | null; inTransaction: boolean } {
  if (task.type === TaskType.DATABASE_CREATE) return { parsed: [], inTransaction: false };
  try {
    const parsed = parseStatements(task.statement);
    return { parsed, inTransaction: !parsed.some((s) => s.kind === StatementKind.NO_TRANSACTION) };
  } catch {
    return { parsed: null, inTransaction: true };
  }
}

/** The rules only Runway can know, for one task (`parsed`: from lintParse). A statement that does not parse has none. */
export function runwayFindings(
  task: { type: TaskType; statement: string; schemaVersion?: string | null },
  parsed: ParsedStatement[] | null = lintParse(task).parsed,
): Finding[] {
  const out: Finding[] = [];
  if (task.type === TaskType.DATABASE_CREATE || parsed === null) return out;
  if (isSequentialTaskType(task.type) && !task.schemaVersion) {
    out.push({
      rule: RunwayRule.SEQUENTIAL_WITHOUT_VERSION,
      severity: "warning",
      message:
        "A schema change without a schema version: nothing orders it against other versions of this database, and the target's history cannot say which version it brings",
      help: "Give the task a schema version",
      source: "runway",
    });
  }
  const outside = parsed.find((s) => s.kind === StatementKind.NO_TRANSACTION);
  if (outside && parsed.length > 1) {
    out.push({
      rule: RunwayRule.MIXED_TRANSACTION,
      severity: "error",
      message: `${outside.command} cannot run inside a transaction block, but this task has other statements, which PostgreSQL runs as one`,
      help: "Put it in a task of its own",
      position: outside.position,
      length: [...outside.text].length,
      source: "runway",
    });
  } else if (outside) {
    out.push({
      rule: RunwayRule.NO_TRANSACTION,
      severity: "warning",
      message: `${outside.command} runs outside a transaction: it cannot be dry-run, and if its replica dies mid-way Runway cannot re-run it`,
      position: outside.position,
      length: [...outside.text].length,
      source: "runway",
    });
  }
  return out;
}

/** Applies Runway's defaults, then the project's settings: a rule set "off" disappears, others take the new severity. */
export function applySettings(findings: readonly Finding[], overrides: Readonly<Record<string, RuleSetting>>): Finding[] {
  const out: Finding[] = [];
  for (const f of findings) {
    const setting = overrides[f.rule] ?? DEFAULT_RULE_SETTINGS[f.rule];
    if (setting === "off") continue;
    out.push(setting ? { ...f, severity: setting } : f);
  }
  return out;
}
