-- Up Migration
-- A run whose owner was lost stays RUNNING (and keeps its gate) until the sweeper has confirmed on the
-- target that none of its sessions is alive and read the target's ledger. While the target cannot be
-- reached, these columns say since when the owner was lost and why the sweeper could not confirm yet
-- (shown by the task-run API). Expand only: replicas of the previous release ignore both columns.
ALTER TABLE task_run ADD COLUMN owner_lost_at timestamptz;
ALTER TABLE task_run ADD COLUMN owner_lost_error text;
