-- Up Migration
-- No statistics for the waiting causes' JSON (issue 19). Nothing compares `cause` as a whole: the passes and the
-- API read fields of it — `cause ->> 'stageId'`, whose expression indexes keep statistics of their own (ANALYZE
-- still takes them), and the blockers read's `cause ? 'taskId'`, a filter on runs it found by rollout and run id,
-- now estimated at PostgreSQL's default (1%) instead of from the sample. That sample, sorted and hashed value by
-- value, was ~60% of an ANALYZE of task_run_wait (20 of 33 ms at 9,000 causes), which a replica's pass asks for
-- after a large rollout's first full pass (scheduler/plan-basis.ts) and autovacuum repeats as causes come and go.
--
-- Rolling deploys: nothing either release reads or writes changes. SET STATISTICS takes a SHARE UPDATE
-- EXCLUSIVE lock, which writers do not wait for.
ALTER TABLE task_run_wait ALTER COLUMN cause SET STATISTICS 0;
ALTER TABLE stage_wait ALTER COLUMN cause SET STATISTICS 0;
