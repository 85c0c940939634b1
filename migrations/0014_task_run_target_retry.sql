-- Up Migration
-- A run whose target could not be reached (or whose session was lost before COMMIT, nothing committed)
-- goes back to PENDING and waits until `retry_at` (exponential backoff), for at most
-- RUNWAY_TARGET_RETRY_S after `retry_since`; the pending scheduler records TARGET_UNREACHABLE meanwhile.
-- Expand only: replicas of the previous release ignore these columns (they would promote such a run at
-- once, which only shortens its backoff).
ALTER TABLE task_run ADD COLUMN retry_at timestamptz;
ALTER TABLE task_run ADD COLUMN retry_since timestamptz;
ALTER TABLE task_run ADD COLUMN retry_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE task_run ADD COLUMN retry_error text;
CREATE INDEX task_run_pending_retry_at_idx ON task_run (retry_at)
  WHERE status = 'PENDING' AND retry_at IS NOT NULL;
-- The new waiting cause. NOT VALID + VALIDATE keeps the lock short; old replicas never write it.
ALTER TABLE task_run_wait DROP CONSTRAINT task_run_wait_type_check;
ALTER TABLE task_run_wait ADD CONSTRAINT task_run_wait_type_check
  CHECK (type IN ('RUN_AT', 'VERSION_ORDER', 'DATABASE_BUSY', 'PARALLEL_LIMIT', 'TARGET_UNREACHABLE')) NOT VALID;
ALTER TABLE task_run_wait VALIDATE CONSTRAINT task_run_wait_type_check;
