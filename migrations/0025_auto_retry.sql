-- Up Migration
-- Automatic retry of lock and serialization failures (lock_timeout 55P03, deadlock 40P01, serialization
-- 40001). Per project: the lock_timeout applied to each transactional run, how many automatic retries a run
-- gets, and the backoff between them. A project without a row uses the defaults below (see
-- domain/auto-retry.ts). Its own table, so the claim reads it with one LEFT JOIN and project stays as it is.
CREATE TABLE project_retry_policy (
  project_id text PRIMARY KEY REFERENCES project (id),
  -- 0: no lock_timeout (the run waits for locks until its statement_timeout).
  lock_timeout_ms integer NOT NULL DEFAULT 0 CHECK (lock_timeout_ms BETWEEN 0 AND 3600000),
  max_auto_retries integer NOT NULL DEFAULT 3 CHECK (max_auto_retries BETWEEN 0 AND 100),
  backoff_base_ms integer NOT NULL DEFAULT 1000 CHECK (backoff_base_ms BETWEEN 0 AND 3600000),
  backoff_max_ms integer NOT NULL DEFAULT 60000 CHECK (backoff_max_ms BETWEEN 0 AND 86400000),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text
);

-- A run that failed this way goes back to PENDING until `retry_at` (the column the TARGET_UNREACHABLE
-- backoff already uses, so the live pass and the pending loop's wake-up need nothing new); `retry_cause`
-- says which backoff it is: NULL is the unreachable target's (what replicas of the previous release
-- write), 'RETRY_BACKOFF' an automatic retry. `auto_retries` counts the automatic retries so far and
-- `auto_retry_max` is the limit in force when the last one was decided (shown as "retry 1 of 3").
-- Expand only: replicas of the previous release ignore these columns.
ALTER TABLE task_run ADD COLUMN retry_cause text CHECK (retry_cause IN ('RETRY_BACKOFF'));
ALTER TABLE task_run ADD COLUMN auto_retries integer NOT NULL DEFAULT 0;
ALTER TABLE task_run ADD COLUMN auto_retry_max integer;

-- The new waiting cause. The allowed list is extended from whatever it is now (other migrations of this
-- release add causes too), so the order these migrations are written in does not matter. NOT VALID +
-- VALIDATE keeps the lock short; old replicas never write it.
DO $$
DECLARE
  types text[];
BEGIN
  SELECT array_agg(DISTINCT m[1]) INTO types
  FROM pg_constraint c, regexp_matches(pg_get_constraintdef(c.oid), '''([A-Z_]+)''', 'g') AS m
  WHERE c.conrelid = 'task_run_wait'::regclass AND c.conname = 'task_run_wait_type_check';
  types := ARRAY(SELECT DISTINCT x FROM unnest(coalesce(types, '{}') || ARRAY['RETRY_BACKOFF']) AS x ORDER BY x);
  ALTER TABLE task_run_wait DROP CONSTRAINT IF EXISTS task_run_wait_type_check;
  EXECUTE format('ALTER TABLE task_run_wait ADD CONSTRAINT task_run_wait_type_check CHECK (type = ANY (%L::text[])) NOT VALID', types);
  ALTER TABLE task_run_wait VALIDATE CONSTRAINT task_run_wait_type_check;
END $$;
