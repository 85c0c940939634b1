-- Up Migration
-- Creating a large rollout checked three foreign keys on every task row (issue 16: a release of 50 files
-- onto 1,000 databases is 150,000 trigger calls, a third of its task INSERT). Two of them, task → stage and
-- task → rollout, become one: (stage_id, rollout_id) → stage (id, rollout_id). It is also stricter: a task
-- can no longer name a stage of another rollout. The rollout still exists because the stage's own key to
-- rollout holds it. The check on instance stays as it was.
--
-- Safe while the previous release runs: it writes a task's stage and rollout from the same create, so
-- its rows satisfy the new key; no code depends on the old constraints' names (a violation is still
-- 23503). The unique constraint on stage is a small index build; adding the key NOT VALID is quick, and
-- VALIDATE reads every task (all pending migrations run in one transaction, so writes to task wait for
-- that read: seconds at 10⁶ tasks, like 0003 and 0048's index builds).
ALTER TABLE stage ADD CONSTRAINT stage_id_rollout_id_key UNIQUE (id, rollout_id);
ALTER TABLE task ADD CONSTRAINT task_stage_rollout_fkey FOREIGN KEY (stage_id, rollout_id) REFERENCES stage (id, rollout_id) NOT VALID;
ALTER TABLE task VALIDATE CONSTRAINT task_stage_rollout_fkey;
ALTER TABLE task DROP CONSTRAINT task_stage_id_fkey, DROP CONSTRAINT task_rollout_id_fkey;
