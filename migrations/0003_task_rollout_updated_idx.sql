-- Up Migration
-- The dashboard's live view asks for the tasks of one rollout changed after a time
-- (`GET /rollouts/:id/tasks?updatedSince=`) on every change event. Without this index that walks all of
-- the rollout's tasks (10,000 is normal) through task_rollout_idx and reads each row to test updated_at;
-- with it, only the changed ones. Every status change already rewrites task_rollout_status_idx, so the
-- writes this index adds are to a task row that is updated anyway (no HOT update is lost).
CREATE INDEX task_rollout_updated_idx ON task (rollout_id, updated_at);
