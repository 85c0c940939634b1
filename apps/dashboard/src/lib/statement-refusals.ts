import { ApiError } from "@/api/http";

/**
 * Statements the server refused when a release was uploaded (details.files, reason RELEASE_STATEMENT) or a
 * rollout created (details.errors, one per task): PostgreSQL's parser or Runway's rules (transaction
 * control, a statement that must run alone, nothing to run). The server names each by file or task path
 * and says where (characters from 1); the dashboard turns that into a line and column of the user's text.
 */
export interface StatementRefusal {
  problem: string;
  /** A release file's name. */
  file?: string;
  /** A task's index in its stage (`stages/0/tasks/<n>`), for a rollout made from pasted SQL. */
  task?: number;
  position?: number;
  statement?: string;
  /** The parser's own words for a syntax error. */
  detail?: string;
  /** A release file's clash: the other file, the version. */
  other?: string;
  version?: string;
}

export const STATEMENT_PROBLEMS = [
  "SYNTAX_ERROR",
  "TRANSACTION_CONTROL",
  "MUST_RUN_ALONE",
  "NO_STATEMENT",
  // A release file refused before its text is parsed (details.reason RELEASE_FILE, one file).
  "EMPTY",
  "DUPLICATE_NAME",
  "DUPLICATE_VERSION",
  "BAD_VERSION",
  "NOT_TEXT",
  "BAD_TYPE",
  "CREATES_DATABASE",
] as const;

type Raw = Partial<Record<"problem" | "file" | "task" | "position" | "statement" | "detail" | "other" | "version", unknown>>;
const text = (v: unknown) => (typeof v === "string" ? v : undefined);

/** What one refusing error carries: the refusals it lists, and how many there were in all (it lists at most 20). */
export interface Refusals {
  list: StatementRefusal[];
  refused: number;
}

/** The refusals an API error carries; null if it carries none. */
export function readRefusals(err: unknown): Refusals | null {
  if (!(err instanceof ApiError) || err.code !== "INVALID_ARGUMENT") return null;
  const d = err.details as { reason?: unknown; file?: unknown; files?: unknown; errors?: unknown; refused?: unknown } | undefined;
  // One file refused before parsing (RELEASE_FILE) is the details themselves; parsed ones are listed.
  const oneFile = d?.reason === "RELEASE_FILE" && d.file !== undefined;
  const raw = (oneFile ? [d] : Array.isArray(d?.files) ? d.files : Array.isArray(d?.errors) ? d.errors : []) as Raw[];
  const list = raw.flatMap((r): StatementRefusal[] => {
    const problem = text(r?.problem);
    if (!problem) return [];
    const task = /^stages\/\d+\/tasks\/(\d+)$/.exec(text(r.task) ?? "")?.[1];
    return [
      {
        problem,
        ...(text(r.file) ? { file: text(r.file) } : {}),
        ...(task !== undefined ? { task: Number(task) } : {}),
        ...(typeof r.position === "number" ? { position: r.position } : {}),
        ...(text(r.statement) ? { statement: text(r.statement) } : {}),
        ...(text(r.detail) ? { detail: text(r.detail) } : {}),
        ...(text(r.other) ? { other: text(r.other) } : {}),
        ...(text(r.version) ? { version: text(r.version) } : {}),
      },
    ];
  });
  if (list.length === 0) return null;
  return { list, refused: typeof d?.refused === "number" ? Math.max(d.refused, list.length) : list.length };
}

/** Line and column (from 1) of a position counted in characters (code points) from 1, as the server counts. */
export function lineAndColumn(source: string, position: number): { line: number; column: number } {
  const before = Array.from(source).slice(0, Math.max(0, position - 1));
  let line = 1;
  let column = 1;
  for (const ch of before) {
    if (ch === "\n") {
      line += 1;
      column = 1;
    } else column += 1;
  }
  return { line, column };
}

type Translate = (key: string, values?: Record<string, unknown>) => string;

/**
 * One refusal as the user reads it: what (a file, a statement), where in it, and why — one message, as
 * each language orders and punctuates those parts itself.
 * `source` is the refused text (the file's content, the statement): with it the position becomes a line and column.
 */
export function refusalLine(t: Translate, r: StatementRefusal, where: string, source?: string): string {
  const known = (STATEMENT_PROBLEMS as readonly string[]).includes(r.problem);
  const sentence = known
    ? t(`refusals.problem.${r.problem}`, {
        statement: r.statement ?? "",
        detail: r.detail ?? "",
        other: r.other ?? "",
        version: r.version ?? "",
      })
    : t("refusals.problem.other", { problem: r.problem });
  if (source === undefined || r.position === undefined) return t("refusals.line", { where, sentence });
  return t("refusals.lineAt", { where, ...lineAndColumn(source, r.position), sentence });
}
