import { loadModule, parseSync } from "libpg-query";
import { TaskType } from "@runway/shared";

/**
 * What a task's statement is, decided once when its rollout is created, with PostgreSQL's own parser
 * (libpg-query runs the server's grammar in-process, WebAssembly; its synchronous parse needs the module
 * loaded once, which this module's top-level await does on import). Pure: no I/O, no clock.
 *
 * The executor runs a transactional task as ONE transaction together with the target ledger row, and
 * checks ownership right before COMMIT. So a task must never control the transaction itself: a COMMIT
 * in it would commit the ledger row early and let the rest run unfenced (issue 10, bug 9). Statements
 * PostgreSQL refuses inside a transaction block run outside one instead; PostgreSQL runs a multi-statement
 * string as one implicit transaction block, so such a statement has to be the only one of its task.
 */
await loadModule();

export const StatementKind = {
  /** Runs inside the run's transaction (almost everything). */
  TRANSACTIONAL: "TRANSACTIONAL",
  /** PostgreSQL refuses it inside a transaction block (SQLSTATE 25001): CREATE INDEX CONCURRENTLY, VACUUM … */
  NO_TRANSACTION: "NO_TRANSACTION",
  /** BEGIN, COMMIT, ROLLBACK, SAVEPOINT, PREPARE TRANSACTION, COMMIT PREPARED …: refused in a task. */
  TRANSACTION_CONTROL: "TRANSACTION_CONTROL",
} as const;
export type StatementKind = (typeof StatementKind)[keyof typeof StatementKind];

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

type Node = Record<string, unknown>;
interface DefElem { defname?: string; arg?: Node }

const defElems = (list: unknown): DefElem[] =>
  Array.isArray(list) ? list.map((d) => ((d as { DefElem?: DefElem }).DefElem ?? {})) : [];

/** A boolean option spelled false/off/0 (the grammar keeps it as a String, a TypeName or an Integer). */
function isFalse(arg: Node | undefined): boolean {
  if (!arg) return false; // a bare option name means true
  const str = (arg.String as { sval?: string } | undefined)?.sval;
  const name = ((arg.TypeName as { names?: { String?: { sval?: string } }[] } | undefined)?.names ?? []).at(-1)?.String?.sval;
  const int = arg.Integer as { ival?: number } | undefined;
  const word = (str ?? name)?.toLowerCase();
  return word === "false" || word === "off" || word === "0" || (int !== undefined && (int.ival ?? 0) === 0);
}
const optionOff = (options: unknown, name: string) => defElems(options).some((d) => d.defname === name && isFalse(d.arg));
const hasOption = (options: unknown, name: string) => defElems(options).some((d) => d.defname === name);

const TRANSACTION_COMMANDS: Record<string, string> = {
  TRANS_STMT_BEGIN: "BEGIN",
  TRANS_STMT_START: "START TRANSACTION",
  TRANS_STMT_COMMIT: "COMMIT",
  TRANS_STMT_ROLLBACK: "ROLLBACK",
  TRANS_STMT_SAVEPOINT: "SAVEPOINT",
  TRANS_STMT_RELEASE: "RELEASE SAVEPOINT",
  TRANS_STMT_ROLLBACK_TO: "ROLLBACK TO SAVEPOINT",
  TRANS_STMT_PREPARE: "PREPARE TRANSACTION",
  TRANS_STMT_COMMIT_PREPARED: "COMMIT PREPARED",
  TRANS_STMT_ROLLBACK_PREPARED: "ROLLBACK PREPARED",
};

/**
 * The command name when PostgreSQL (17) calls PreventInTransactionBlock for this statement. Where that
 * depends on the target's catalog (DROP SUBSCRIPTION of a subscription with a replication slot), the
 * answer is "outside": running a single statement outside a transaction always works; it only costs
 * re-runnability.
 */
function noTransactionCommand(node: string, s: Node): string | undefined {
  switch (node) {
    case "IndexStmt":
      return s.concurrent ? "CREATE INDEX CONCURRENTLY" : undefined;
    case "DropStmt":
      return s.concurrent ? "DROP INDEX CONCURRENTLY" : undefined;
    case "ReindexStmt": {
      if (hasOption(s.params, "concurrently") && !optionOff(s.params, "concurrently")) return "REINDEX CONCURRENTLY";
      const kind = { REINDEX_OBJECT_SCHEMA: "REINDEX SCHEMA", REINDEX_OBJECT_DATABASE: "REINDEX DATABASE", REINDEX_OBJECT_SYSTEM: "REINDEX SYSTEM" }[String(s.kind)];
      return kind;
    }
    case "AlterTableStmt": {
      const cmds = (s.cmds as { AlterTableCmd?: { subtype?: string; def?: { PartitionCmd?: { concurrent?: boolean } } } }[] | undefined) ?? [];
      return cmds.some((c) => c.AlterTableCmd?.subtype === "AT_DetachPartition" && c.AlterTableCmd.def?.PartitionCmd?.concurrent)
        ? "ALTER TABLE … DETACH PARTITION … CONCURRENTLY"
        : undefined;
    }
    case "VacuumStmt":
      // ANALYZE alone may run in a transaction block; VACUUM (with or without ANALYZE) may not.
      return s.is_vacuumcmd ? "VACUUM" : undefined;
    case "CreatedbStmt":
      return "CREATE DATABASE";
    case "DropdbStmt":
      return "DROP DATABASE";
    case "AlterDatabaseStmt":
      return hasOption(s.options, "tablespace") ? "ALTER DATABASE … SET TABLESPACE" : undefined;
    case "AlterSystemStmt":
      return "ALTER SYSTEM";
    case "CreateTableSpaceStmt":
      return "CREATE TABLESPACE";
    case "DropTableSpaceStmt":
      return "DROP TABLESPACE";
    case "ClusterStmt":
      // CLUSTER without a table clusters every table, each in its own transaction.
      return s.relation ? undefined : "CLUSTER";
    case "DiscardStmt":
      return s.target === "DISCARD_ALL" ? "DISCARD ALL" : undefined;
    case "CreateSubscriptionStmt":
      // create_slot defaults to true, and to false with connect = false.
      return optionOff(s.options, "create_slot") || optionOff(s.options, "connect") ? undefined : "CREATE SUBSCRIPTION";
    case "AlterSubscriptionStmt": {
      const kind = String(s.kind);
      if (kind === "ALTER_SUBSCRIPTION_REFRESH") return "ALTER SUBSCRIPTION … REFRESH PUBLICATION";
      if (kind.endsWith("_PUBLICATION")) return optionOff(s.options, "refresh") ? undefined : "ALTER SUBSCRIPTION … PUBLICATION (refresh)";
      if (kind === "ALTER_SUBSCRIPTION_OPTIONS" && (hasOption(s.options, "failover") || hasOption(s.options, "two_phase")))
        return "ALTER SUBSCRIPTION … SET (failover / two_phase)";
      return undefined;
    }
    case "DropSubscriptionStmt":
      return "DROP SUBSCRIPTION";
    default:
      return undefined;
  }
}

function classify(stmt: Node): Pick<ParsedStatement, "node" | "kind" | "command"> {
  const node = Object.keys(stmt)[0] ?? "Unknown";
  const body = (stmt[node] ?? {}) as Node;
  if (node === "TransactionStmt") {
    return { node, kind: StatementKind.TRANSACTION_CONTROL, command: TRANSACTION_COMMANDS[String(body.kind)] ?? "transaction control" };
  }
  const command = noTransactionCommand(node, body);
  return command ? { node, kind: StatementKind.NO_TRANSACTION, command } : { node, kind: StatementKind.TRANSACTIONAL };
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
  if (sql.trim() === "") return [];
  let tree: { stmts?: { stmt: Node; stmt_location?: number; stmt_len?: number }[] };
  try {
    tree = parseSync(sql) as typeof tree;
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
}

const MAX_QUOTED = 120;
const truncate = (text: string) => (text.length > MAX_QUOTED ? text.slice(0, MAX_QUOTED) + "…" : text);
const quote = (text: string) => JSON.stringify(truncate(text));

/** Decides how a task's statement runs, or why it is refused. */
export function planStatement(type: TaskType, sql: string): { plan: StatementPlan } | { refusal: StatementRefusal } {
  let parsed: ParsedStatement[];
  try {
    parsed = parseStatements(sql);
  } catch (e) {
    if (!(e instanceof StatementSyntaxError)) throw e;
    const where = e.position === undefined ? "" : ` at position ${e.position}`;
    return { refusal: { problem: TaskStatementProblem.SYNTAX_ERROR, message: `${e.message}${where}`, ...(e.position === undefined ? {} : { position: e.position }) } };
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
export function planStatements(tasks: readonly { type: TaskType; statement: string }[]): ({ plan: StatementPlan } | { refusal: StatementRefusal })[] {
  const cache = new Map<string, ReturnType<typeof planStatement>>();
  return tasks.map((t) => {
    const key = `${t.type === TaskType.DATABASE_CREATE ? "C" : "S"}${t.statement}`;
    let r = cache.get(key);
    if (!r) cache.set(key, (r = planStatement(t.type, t.statement)));
    return r;
  });
}
