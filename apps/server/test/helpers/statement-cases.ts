import type { StatementKind } from "../../src/domain/statements.js";

/**
 * One statement each, with the kind domain/statements.ts must give it. test/statements.test.ts checks the
 * classifier against this table; test/statements-pg.test.ts checks the table against PostgreSQL itself
 * (inside BEGIN, a NO_TRANSACTION statement fails with 25001 and nothing else does). The objects named
 * here are created by STATEMENT_CASES_SETUP.
 */
export const STATEMENT_CASES_SETUP = `
  CREATE TABLE t (a int);
  CREATE INDEX i ON t (a);
  CREATE TABLE p (k int) PARTITION BY RANGE (k);
  CREATE TABLE c PARTITION OF p FOR VALUES FROM (0) TO (10);
  CREATE TYPE e AS ENUM ('x');
  CREATE MATERIALIZED VIEW mv AS SELECT 1 AS one;
  CREATE UNIQUE INDEX mv_one ON mv (one);
  CREATE PUBLICATION pub;
`;

export interface StatementCase {
  sql: string;
  kind: StatementKind;
  command?: string;
  /**
   * NO_TRANSACTION by our choice although PostgreSQL may accept it in a transaction block (it depends on
   * the target's catalog): skip the check against PostgreSQL.
   */
  conservative?: true;
}

export const STATEMENT_CASES: StatementCase[] = [
  // Transaction control: refused in a task.
  { sql: "BEGIN", kind: "TRANSACTION_CONTROL", command: "BEGIN" },
  { sql: "begin isolation level serializable", kind: "TRANSACTION_CONTROL", command: "BEGIN" },
  { sql: "START TRANSACTION READ WRITE", kind: "TRANSACTION_CONTROL", command: "START TRANSACTION" },
  { sql: "COMMIT", kind: "TRANSACTION_CONTROL", command: "COMMIT" },
  { sql: "END", kind: "TRANSACTION_CONTROL", command: "COMMIT" },
  { sql: "COMMIT AND CHAIN", kind: "TRANSACTION_CONTROL", command: "COMMIT" },
  { sql: "ROLLBACK", kind: "TRANSACTION_CONTROL", command: "ROLLBACK" },
  { sql: "ABORT", kind: "TRANSACTION_CONTROL", command: "ROLLBACK" },
  { sql: "SAVEPOINT s1", kind: "TRANSACTION_CONTROL", command: "SAVEPOINT" },
  { sql: "RELEASE SAVEPOINT s1", kind: "TRANSACTION_CONTROL", command: "RELEASE SAVEPOINT" },
  { sql: "ROLLBACK TO SAVEPOINT s1", kind: "TRANSACTION_CONTROL", command: "ROLLBACK TO SAVEPOINT" },
  { sql: "PREPARE TRANSACTION 'g1'", kind: "TRANSACTION_CONTROL", command: "PREPARE TRANSACTION" },
  { sql: "COMMIT PREPARED 'g1'", kind: "TRANSACTION_CONTROL", command: "COMMIT PREPARED" },
  { sql: "ROLLBACK PREPARED 'g1'", kind: "TRANSACTION_CONTROL", command: "ROLLBACK PREPARED" },

  // Refused by PostgreSQL inside a transaction block.
  { sql: "CREATE INDEX CONCURRENTLY i2 ON t (a)", kind: "NO_TRANSACTION", command: "CREATE INDEX CONCURRENTLY" },
  { sql: "create unique index concurrently if not exists i3 on t (a)", kind: "NO_TRANSACTION", command: "CREATE INDEX CONCURRENTLY" },
  { sql: "DROP INDEX CONCURRENTLY i", kind: "NO_TRANSACTION", command: "DROP INDEX CONCURRENTLY" },
  { sql: "REINDEX TABLE CONCURRENTLY t", kind: "NO_TRANSACTION", command: "REINDEX CONCURRENTLY" },
  { sql: "REINDEX (CONCURRENTLY) INDEX i", kind: "NO_TRANSACTION", command: "REINDEX CONCURRENTLY" },
  { sql: "REINDEX SCHEMA public", kind: "NO_TRANSACTION", command: "REINDEX SCHEMA" },
  { sql: "REINDEX DATABASE", kind: "NO_TRANSACTION", command: "REINDEX DATABASE" },
  { sql: "REINDEX SYSTEM", kind: "NO_TRANSACTION", command: "REINDEX SYSTEM" },
  {
    sql: "ALTER TABLE p DETACH PARTITION c CONCURRENTLY",
    kind: "NO_TRANSACTION",
    command: "ALTER TABLE … DETACH PARTITION … CONCURRENTLY",
  },
  { sql: "VACUUM", kind: "NO_TRANSACTION", command: "VACUUM" },
  { sql: "VACUUM (ANALYZE, VERBOSE) t", kind: "NO_TRANSACTION", command: "VACUUM" },
  { sql: "vacuum full t", kind: "NO_TRANSACTION", command: "VACUUM" },
  { sql: "CREATE DATABASE runway_never_created", kind: "NO_TRANSACTION", command: "CREATE DATABASE" },
  { sql: "DROP DATABASE IF EXISTS runway_never_created", kind: "NO_TRANSACTION", command: "DROP DATABASE" },
  { sql: "ALTER DATABASE postgres SET TABLESPACE pg_default", kind: "NO_TRANSACTION", command: "ALTER DATABASE … SET TABLESPACE" },
  { sql: "ALTER SYSTEM SET work_mem = '4MB'", kind: "NO_TRANSACTION", command: "ALTER SYSTEM" },
  { sql: "ALTER SYSTEM RESET ALL", kind: "NO_TRANSACTION", command: "ALTER SYSTEM" },
  { sql: "CREATE TABLESPACE never LOCATION '/nonexistent/runway'", kind: "NO_TRANSACTION", command: "CREATE TABLESPACE" },
  { sql: "DROP TABLESPACE IF EXISTS never", kind: "NO_TRANSACTION", command: "DROP TABLESPACE" },
  { sql: "CLUSTER", kind: "NO_TRANSACTION", command: "CLUSTER" },
  { sql: "DISCARD ALL", kind: "NO_TRANSACTION", command: "DISCARD ALL" },
  {
    sql: "CREATE SUBSCRIPTION sub1 CONNECTION 'host=/nonexistent dbname=x' PUBLICATION pub",
    kind: "NO_TRANSACTION",
    command: "CREATE SUBSCRIPTION",
  },
  {
    sql: "ALTER SUBSCRIPTION sub1 REFRESH PUBLICATION",
    kind: "NO_TRANSACTION",
    command: "ALTER SUBSCRIPTION … REFRESH PUBLICATION",
    conservative: true,
  },
  {
    sql: "ALTER SUBSCRIPTION sub1 ADD PUBLICATION pub",
    kind: "NO_TRANSACTION",
    command: "ALTER SUBSCRIPTION … PUBLICATION (refresh)",
    conservative: true,
  },
  { sql: "DROP SUBSCRIPTION IF EXISTS sub1", kind: "NO_TRANSACTION", command: "DROP SUBSCRIPTION", conservative: true },

  // Fine inside a transaction block.
  { sql: "CREATE INDEX i4 ON t (a)", kind: "TRANSACTIONAL" },
  { sql: "DROP INDEX i", kind: "TRANSACTIONAL" },
  { sql: "REINDEX TABLE t", kind: "TRANSACTIONAL" },
  { sql: "REINDEX (CONCURRENTLY false) INDEX i", kind: "TRANSACTIONAL" },
  { sql: "ALTER TABLE p DETACH PARTITION c", kind: "TRANSACTIONAL" },
  { sql: "ANALYZE t", kind: "TRANSACTIONAL" },
  { sql: "ALTER TYPE e ADD VALUE 'y'", kind: "TRANSACTIONAL" }, // allowed in a transaction block since PostgreSQL 12
  { sql: "ALTER DATABASE postgres SET work_mem = '4MB'", kind: "TRANSACTIONAL" },
  { sql: "CLUSTER t USING i", kind: "TRANSACTIONAL" },
  { sql: "DISCARD PLANS", kind: "TRANSACTIONAL" },
  { sql: "REFRESH MATERIALIZED VIEW CONCURRENTLY mv", kind: "TRANSACTIONAL" },
  { sql: "CREATE SUBSCRIPTION sub2 CONNECTION 'host=/nonexistent dbname=x' PUBLICATION pub WITH (connect = false)", kind: "TRANSACTIONAL" },
  { sql: "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", kind: "TRANSACTIONAL" },
  { sql: "SET LOCAL lock_timeout = '1s'", kind: "TRANSACTIONAL" },
  { sql: "DO $$ BEGIN PERFORM 1; END $$", kind: "TRANSACTIONAL" },
  { sql: 'CREATE TABLE begin_commit ("commit" int)', kind: "TRANSACTIONAL" },
  { sql: "SELECT 'COMMIT; VACUUM' AS not_a_statement", kind: "TRANSACTIONAL" },
  { sql: "INSERT INTO t VALUES (1) /* ; COMMIT */", kind: "TRANSACTIONAL" },
  { sql: "ALTER TABLE t ADD COLUMN b text NOT NULL DEFAULT 'x'", kind: "TRANSACTIONAL" },
];
