-- Up Migration
-- Whether a run of the task may be re-run after its owner died, decided once when the task is created
-- (apps/server/src/executors/statement-kind.ts: statements PostgreSQL refuses inside a transaction block
-- are not re-runnable, except DATABASE_CREATE, which checks first). Stored so that creating a run is one
-- statement (no read of the statement first). The backfill below mirrors statement-kind.ts's patterns in
-- PostgreSQL's regular-expression syntax (\y is a word boundary) for tasks created before this column.
ALTER TABLE task ADD COLUMN rerunnable boolean;
UPDATE task SET rerunnable = type = 'DATABASE_CREATE' OR NOT (
     statement ~* '\yCREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\y'
  OR statement ~* '\yDROP\s+INDEX\s+CONCURRENTLY\y'
  OR statement ~* '\yREINDEX\y[^;]*\yCONCURRENTLY\y'
  OR statement ~* '\yDETACH\s+PARTITION\y[^;]*\yCONCURRENTLY\y'
  OR statement ~* '(?n)^\s*VACUUM\y'
  OR statement ~* '\yCREATE\s+DATABASE\y'
  OR statement ~* '\yDROP\s+DATABASE\y'
  OR statement ~* '\yALTER\s+SYSTEM\y'
  OR statement ~* '\yCREATE\s+TABLESPACE\y');
ALTER TABLE task ALTER COLUMN rerunnable SET NOT NULL;
