/**
 * What kind of statement a parse node is, for domain/statements.ts: transaction control, a statement
 * PostgreSQL refuses inside a transaction block, or anything else. Pure; checked against PostgreSQL itself
 * by test/statements-pg.test.ts.
 */
export const StatementKind = {
  /** Runs inside the run's transaction (almost everything). */
  TRANSACTIONAL: "TRANSACTIONAL",
  /** PostgreSQL refuses it inside a transaction block (SQLSTATE 25001): CREATE INDEX CONCURRENTLY, VACUUM … */
  NO_TRANSACTION: "NO_TRANSACTION",
  /** BEGIN, COMMIT, ROLLBACK, SAVEPOINT, PREPARE TRANSACTION, COMMIT PREPARED …: refused in a task. */
  TRANSACTION_CONTROL: "TRANSACTION_CONTROL",
} as const;
export type StatementKind = (typeof StatementKind)[keyof typeof StatementKind];

export type Node = Record<string, unknown>;
interface DefElem {
  defname?: string;
  arg?: Node;
}

const defElems = (list: unknown): DefElem[] => (Array.isArray(list) ? list.map((d) => (d as { DefElem?: DefElem }).DefElem ?? {}) : []);

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
      const kind = {
        REINDEX_OBJECT_SCHEMA: "REINDEX SCHEMA",
        REINDEX_OBJECT_DATABASE: "REINDEX DATABASE",
        REINDEX_OBJECT_SYSTEM: "REINDEX SYSTEM",
      }[String(s.kind)];
      return kind;
    }
    case "AlterTableStmt": {
      const cmds =
        (s.cmds as { AlterTableCmd?: { subtype?: string; def?: { PartitionCmd?: { concurrent?: boolean } } } }[] | undefined) ?? [];
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

/** The kind of one top-level statement of libpg-query's tree (`{ IndexStmt: {...} }`), and its command name. */
export function classify(stmt: Node): { node: string; kind: StatementKind; command?: string } {
  const node = Object.keys(stmt)[0] ?? "Unknown";
  const body = (stmt[node] ?? {}) as Node;
  if (node === "TransactionStmt") {
    return { node, kind: StatementKind.TRANSACTION_CONTROL, command: TRANSACTION_COMMANDS[String(body.kind)] ?? "transaction control" };
  }
  const command = noTransactionCommand(node, body);
  return command ? { node, kind: StatementKind.NO_TRANSACTION, command } : { node, kind: StatementKind.TRANSACTIONAL };
}
