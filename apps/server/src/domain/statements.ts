import { LRUCache } from "lru-cache";
import { TaskType } from "@runway/shared";
import { classify, StatementKind, type Node } from "./statement-kinds.js";

export { StatementKind } from "./statement-kinds.js";

/**
 * What a task's statement is, decided once when its rollout is created, with PostgreSQL's own parser
 * (libpg-query runs the server's grammar in-process, WebAssembly; its synchronous parse needs the module
 * loaded once: loadStatementParser()). Pure: no I/O, no clock.
 *
 * The executor runs a transactional task as ONE transaction together with the target ledger row, and
 * checks ownership right before COMMIT. So a task must never control the transaction itself: a COMMIT
 * in it would commit the ledger row early and let the rest run unfenced (issue 10, bug 9). Statements
 * PostgreSQL refuses inside a transaction block run outside one instead; PostgreSQL runs a multi-statement
 * string as one implicit transaction block, so such a statement has to be the only one of its task.
 */

type PgQuery = typeof import("libpg-query");
let pgQuery: PgQuery | undefined;
let loading: Promise<void> | undefined;

/**
 * Loads PostgreSQL's parser. Not at start-up (issue 20): compiled, the WebAssembly module costs ~35 MiB
 * and ~0.4 s of CPU, which a replica that never creates or lints a rollout would pay for nothing (importing
 * libpg-query already starts loading it, hence the dynamic import). Every async entry point here and in
 * checks/lint.ts awaits it; the synchronous ones (parseStatements, planStatement) need it done first.
 */
export function loadStatementParser(): Promise<void> {
  return (loading ??= import("libpg-query")
    .then(async (m) => {
      await m.loadModule();
      pgQuery = m;
    })
    .catch((err: unknown) => {
      loading = undefined;
      throw err;
    }));
}

export interface ParsedStatement {
  /** The statement's text as written (without the separating semicolon and surrounding blanks). */
  text: string;
  /** 1-based character position of the statement in the task's text, as PostgreSQL reports positions. */
  position: number;
  /** The parse node, e.g. "IndexStmt". */
  node: string;
  kind: StatementKind;
  /** For NO_TRANSACTION and TRANSACTION_CONTROL: the command as PostgreSQL's docs name it. */
  command?: string;
}

export class StatementSyntaxError extends Error {
  constructor(
    message: string,
    /** 1-based character position in the task's text (PostgreSQL's convention); undefined when unknown. */
    readonly position: number | undefined,
  ) {
    super(message);
    this.name = "StatementSyntaxError";
  }
}

/** Code points, as PostgreSQL counts positions (a JS string's length counts UTF-16 units). */
const charCount = (s: string) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/** Length of the whitespace and comments before a statement (its location includes them). */
function leadingBlanks(raw: string): number {
  let i = 0;
  for (;;) {
    while (i < raw.length && /\s/.test(raw[i]!)) i++;
    if (raw.startsWith("--", i)) {
      const nl = raw.indexOf("\n", i);
      i = nl < 0 ? raw.length : nl + 1;
    } else if (raw.startsWith("/*", i)) {
      // Block comments nest in PostgreSQL.
      let depth = 0;
      do {
        if (raw.startsWith("/*", i)) {
          depth++;
          i += 2;
        } else if (raw.startsWith("*/", i)) {
          depth--;
          i += 2;
        } else i++;
      } while (depth > 0 && i < raw.length);
    } else return i;
  }
}

/**
 * Splits a statement string into its top-level statements, each classified. Throws StatementSyntaxError
 * with PostgreSQL's message and position. Only top-level statements count: a COMMIT inside a DO block or
 * a procedure fails on the target inside the run's transaction ("invalid transaction termination").
 */
export function parseStatements(sql: string): ParsedStatement[] {
  // Creation plans and lints the same statements at once: the second asks the parser nothing.
  const hit = recentParses.get(sql);
  if (hit instanceof StatementSyntaxError) throw hit;
  if (hit) return hit;
  try {
    const parsed = parseUncached(sql);
    recentParses.set(sql, parsed);
    return parsed;
  } catch (e) {
    if (e instanceof StatementSyntaxError) recentParses.set(sql, e);
    throw e;
  }
}

/** Parses of recent statements (results are never mutated), bounded by the statements' size. */
const recentParses = new LRUCache<string, ParsedStatement[] | StatementSyntaxError>({
  maxSize: 32 * 1024 * 1024,
  sizeCalculation: (_v, sql) => 3 * sql.length + 100,
});

function parseUncached(sql: string): ParsedStatement[] {
  if (sql.trim() === "") return [];
  if (!pgQuery) throw new Error("the statement parser is not loaded yet: await loadStatementParser() first");
  let tree: { stmts?: { stmt: Node; stmt_location?: number; stmt_len?: number }[] };
  try {
    tree = pgQuery.parseSync(sql) as typeof tree;
  } catch (e) {
    const details = (e as { sqlDetails?: { cursorPosition?: number } }).sqlDetails;
    // libpg-query reports the cursor 0-based; PostgreSQL (and our API) 1-based.
    const pos = details?.cursorPosition;
    throw new StatementSyntaxError((e as Error).message, pos !== undefined && pos >= 0 ? pos + 1 : undefined);
  }
  // Locations are byte offsets into the UTF-8 text; the last statement has no length (to the end).
  const bytes = Buffer.from(sql, "utf8");
  // Characters before each statement, counted on from the previous one: linear in the script's size.
  let countedBytes = 0;
  let countedChars = 0;
  return (tree.stmts ?? []).map((s) => {
    const start = s.stmt_location ?? 0;
    countedChars += charCount(bytes.subarray(countedBytes, start).toString("utf8"));
    countedBytes = start;
    const raw = bytes.subarray(start, s.stmt_len ? start + s.stmt_len : bytes.length).toString("utf8");
    const lead = leadingBlanks(raw);
    const text = raw.slice(lead).trimEnd().replace(/;$/, "").trimEnd();
    return { text, position: countedChars + charCount(raw.slice(0, lead)) + 1, ...classify(s.stmt) };
  });
}

export const TaskStatementProblem = {
  SYNTAX_ERROR: "SYNTAX_ERROR",
  TRANSACTION_CONTROL: "TRANSACTION_CONTROL",
  /** A statement that cannot run in a transaction block shares its task with other statements. */
  MUST_RUN_ALONE: "MUST_RUN_ALONE",
  /** Only comments, semicolons and blanks: nothing would run, yet a versioned task would be recorded applied. */
  NO_STATEMENT: "NO_STATEMENT",
} as const;
export type TaskStatementProblem = (typeof TaskStatementProblem)[keyof typeof TaskStatementProblem];

export interface StatementPlan {
  /** Number of top-level statements. */
  statements: number;
  /** False for a statement PostgreSQL refuses in a transaction block, and for DATABASE_CREATE. */
  runsInTransaction: boolean;
  /** Recovery may re-run it after its owner died (task.rerunnable). */
  rerunnable: boolean;
}

export interface StatementRefusal {
  problem: TaskStatementProblem;
  message: string;
  /** The offending statement (truncated), and where it starts in the task's text (1-based characters). */
  statement?: string;
  position?: number;
  /** A syntax error's words from the parser ("syntax error at or near …"), for a caller that says where itself. */
  detail?: string;
}

export type PlanResult = { plan: StatementPlan } | { refusal: StatementRefusal };

const MAX_QUOTED = 120;
const truncate = (text: string) => (text.length > MAX_QUOTED ? text.slice(0, MAX_QUOTED) + "…" : text);
const quote = (text: string) => JSON.stringify(truncate(text));

/** Decides how a task's statement runs, or why it is refused. */
export function planStatement(type: TaskType, sql: string): PlanResult {
  let parsed: ParsedStatement[];
  try {
    parsed = parseStatements(sql);
  } catch (e) {
    if (!(e instanceof StatementSyntaxError)) throw e;
    const where = e.position === undefined ? "" : ` at position ${e.position}`;
    return {
      refusal: {
        problem: TaskStatementProblem.SYNTAX_ERROR,
        message: `${e.message}${where}`,
        detail: e.message,
        ...(e.position === undefined ? {} : { position: e.position }),
      },
    };
  }
  if (parsed.length === 0 && type !== TaskType.DATABASE_CREATE) {
    return {
      refusal: {
        problem: TaskStatementProblem.NO_STATEMENT,
        message:
          "the statement has nothing to run (only comments, semicolons or blanks), yet its run would be recorded in the ledger as applied",
      },
    };
  }
  const control = parsed.find((s) => s.kind === StatementKind.TRANSACTION_CONTROL);
  if (control) {
    return {
      refusal: {
        problem: TaskStatementProblem.TRANSACTION_CONTROL,
        message: `statement ${quote(control.text)} at position ${control.position} is transaction control (${control.command}): Runway runs each task in its own transaction with its ledger row and checks ownership before COMMIT, so a task must not begin, commit or roll back transactions`,
        statement: truncate(control.text),
        position: control.position,
      },
    };
  }
  const outside = parsed.find((s) => s.kind === StatementKind.NO_TRANSACTION);
  if (outside && parsed.length > 1) {
    return {
      refusal: {
        problem: TaskStatementProblem.MUST_RUN_ALONE,
        message: `statement ${quote(outside.text)} at position ${outside.position} (${outside.command}) cannot run inside a transaction block, and PostgreSQL runs several statements sent together as one; put it in a task of its own`,
        statement: truncate(outside.text),
        position: outside.position,
      },
    };
  }
  const runsInTransaction = type !== TaskType.DATABASE_CREATE && !outside;
  // DATABASE_CREATE checks for the database first, so it is idempotent even outside a transaction.
  return { plan: { statements: parsed.length, runsInTransaction, rerunnable: type === TaskType.DATABASE_CREATE || runsInTransaction } };
}

/**
 * The run-time reading of the decision made at creation: for every type but DATABASE_CREATE (which the
 * executor handles apart), a task is re-runnable exactly when it runs in a transaction, so the claimed
 * run's `rerunnable` says how to run it without parsing again.
 */
export function runsOutsideTransaction(run: { type: TaskType; rerunnable: boolean }): boolean {
  return run.type === TaskType.DATABASE_CREATE || !run.rerunnable;
}

/** Plans many tasks, parsing each distinct statement once (a rollout often repeats one statement). */
export function planStatements(tasks: readonly { type: TaskType; statement: string }[]): PlanResult[] {
  const plan = memoizedPlanner();
  return tasks.map((t) => plan(t.type, t.statement));
}

/**
 * planStatements, handing the event loop back every `sliceMs` of parsing: a rollout body may hold 16 MiB
 * of SQL (seconds of parsing), and the replica's heartbeats and requests must not wait for all of it.
 */
export async function planStatementsYielding(tasks: readonly { type: TaskType; statement: string }[], sliceMs = 20): Promise<PlanResult[]> {
  await loadStatementParser();
  const plan = memoizedPlanner();
  const out: PlanResult[] = [];
  let sliceStart = performance.now();
  for (const t of tasks) {
    out.push(plan(t.type, t.statement));
    if (performance.now() - sliceStart > sliceMs) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
  return out;
}

function memoizedPlanner(): (type: TaskType, statement: string) => PlanResult {
  const cache = new Map<string, PlanResult>();
  return (type, statement) => {
    // DATABASE_CREATE plans differently from every other type; the others alike.
    const key = `${type === TaskType.DATABASE_CREATE ? "C" : "S"}${statement}`;
    let r = cache.get(key);
    if (!r) cache.set(key, (r = planStatement(type, statement)));
    return r;
  };
}

/**
 * The index a task builds with `CREATE INDEX CONCURRENTLY`: its name, and its schema when the statement
 * names one (an index lives in its table's schema); null for any other statement or an unnamed index.
 * What an interrupted build left on the target is looked up by it (executors/reconcile.ts). Needs the
 * parser loaded (loadStatementParser).
 */
export function concurrentIndexName(sql: string): { schema: string | null; name: string } | null {
  if (!pgQuery) throw new Error("the statement parser is not loaded yet: await loadStatementParser() first");
  let stmts: { stmt: Node }[];
  try {
    stmts = (pgQuery.parseSync(sql) as { stmts?: { stmt: Node }[] }).stmts ?? [];
  } catch {
    return null;
  }
  const idx = stmts.length === 1 ? (stmts[0]!.stmt.IndexStmt as Node | undefined) : undefined;
  if (!idx || idx.concurrent !== true || typeof idx.idxname !== "string") return null;
  const schema = (idx.relation as Node | undefined)?.schemaname;
  return { schema: typeof schema === "string" ? schema : null, name: idx.idxname };
}
