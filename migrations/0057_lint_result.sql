-- Up Migration
-- Lint findings once per distinct statement of a rollout (issue 15: a 10,000-task rollout repeats its
-- statements), tasks pointing at them. `task_check` keeps one narrow row per task (worst severity, error,
-- time) and gains `result_id`; its own `findings` column stays for rows written before this release and by
-- replicas of the previous release, which go on reading `task_check.findings` (empty for rows this
-- release writes: only their findings list is missing there, severities and the policy read the same).
-- No foreign key from task_check.result_id: a 10,000-row insert would pay a trigger per row; results are
-- written in the statement that points tasks at them and never deleted while a task points at them.
CREATE TABLE lint_result (
  id bigserial PRIMARY KEY,
  rollout_id bigint NOT NULL REFERENCES rollout (id),
  findings jsonb NOT NULL,
  worst text CHECK (worst IN ('error', 'warning', 'info')),
  lint_error text
);
CREATE INDEX lint_result_rollout_idx ON lint_result (rollout_id);
ALTER TABLE task_check ADD COLUMN result_id bigint;
