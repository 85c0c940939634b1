-- Up Migration
-- BLOCKED_BY_FAILED: a PENDING run whose nearest smaller version's task is FAILED or CANCELED (it will
-- never finish by itself). `ahead` marks a retry of such a blocker: the pending scheduler decides it before
-- the other waiting runs of its rollout, so the chain behind it moves again at once.
-- Expand only: replicas of the previous release ignore `ahead` (they decide retries first come, first
-- served) and rewrite a BLOCKED_BY_FAILED cause they read as VERSION_ORDER, which the new release
-- corrects on its next evaluation of the run.
ALTER TABLE task_run ADD COLUMN ahead boolean NOT NULL DEFAULT false;
CREATE INDEX task_run_pending_ahead_idx ON task_run (rollout_id) WHERE status = 'PENDING' AND ahead;
-- The new waiting cause, with every cause of this release (0020's release controls, 0025's RETRY_BACKOFF):
-- test/wait-cause-check.test.ts checks the list against WaitingCauseType. NOT VALID + VALIDATE keeps the
-- lock short.
ALTER TABLE task_run_wait DROP CONSTRAINT task_run_wait_type_check;
ALTER TABLE task_run_wait ADD CONSTRAINT task_run_wait_type_check
  CHECK (type IN ('RUN_AT', 'VERSION_ORDER', 'DATABASE_BUSY', 'PARALLEL_LIMIT', 'TARGET_UNREACHABLE', 'STAGE_GATE',
    'APPROVAL_REQUIRED', 'PAUSED', 'RETRY_BACKOFF', 'BLOCKED_BY_FAILED')) NOT VALID;
ALTER TABLE task_run_wait VALIDATE CONSTRAINT task_run_wait_type_check;
