-- Up Migration
-- Repairs 0004 for rolling deploys (issue 10, bug 12; docs/upgrading.md). 0004 made task.rerunnable NOT
-- NULL without a default, so a replica of the release before it, whose rollout creation does not write
-- the column, failed every rollout it created (23502) until it was replaced.
--
-- Fix: when an INSERT leaves rerunnable NULL, compute it the way that release itself decides (its
-- executors/statement-kind.ts regular expressions, which also fill the backfill of 0004, here in
-- PostgreSQL's syntax: \y is a word boundary): not re-runnable exactly when a statement cannot run in a
-- transaction block, DATABASE_CREATE always re-runnable. That release computes each run's
-- task_run.rerunnable from the same expressions, so task and run agree, and the current release reads
-- the task's value back as "runs outside a transaction" (domain/statements.ts) exactly as that release
-- would run it. A constant default would be simpler but wrong either way: false would run a transactional
-- task outside its transaction, true would run CREATE INDEX CONCURRENTLY inside one (and re-run it).
--
-- The current release always writes the column (from PostgreSQL's own parser), so the trigger's WHEN
-- clause is false for its rows and the function is never called for them. NOT NULL is checked after
-- BEFORE triggers, so it stays. Contract later: drop the trigger in the first release after one that
-- every deployment has run, when no replica from before 0004 can be left (docs/upgrading.md).
CREATE FUNCTION task_rerunnable_from_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.rerunnable := NEW.type = 'DATABASE_CREATE' OR NOT (
       NEW.statement ~* '\yCREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\y'
    OR NEW.statement ~* '\yDROP\s+INDEX\s+CONCURRENTLY\y'
    OR NEW.statement ~* '\yREINDEX\y[^;]*\yCONCURRENTLY\y'
    OR NEW.statement ~* '\yDETACH\s+PARTITION\y[^;]*\yCONCURRENTLY\y'
    OR NEW.statement ~* '(?n)^\s*VACUUM\y'
    OR NEW.statement ~* '\yCREATE\s+DATABASE\y'
    OR NEW.statement ~* '\yDROP\s+DATABASE\y'
    OR NEW.statement ~* '\yALTER\s+SYSTEM\y'
    OR NEW.statement ~* '\yCREATE\s+TABLESPACE\y');
  RETURN NEW;
END $$;

CREATE TRIGGER task_rerunnable_default BEFORE INSERT ON task
  FOR EACH ROW WHEN (NEW.rerunnable IS NULL) EXECUTE FUNCTION task_rerunnable_from_statement();
