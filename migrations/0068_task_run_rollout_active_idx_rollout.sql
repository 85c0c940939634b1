-- Up Migration
-- A database's holder (the AVAILABLE or RUNNING sequential run there, ORDER BY id LIMIT 1) is read through
-- task_run_busy_id_idx (0062), but its conditions imply the predicate of task_run_rollout_active_idx too.
-- With statistics taken while almost no run was active (a large rollout created and analyzed, then promoted),
-- PostgreSQL counted that index as nearly empty and, per database, scanned all of it and sorted, rather than
-- probe task_run_busy_id_idx: 0.14 ms a database with 1,000 active runs, 88 of the 113 ms of a live pass of
-- 650 candidates in the 3-replica gated benchmark (issue 19, docs/benchmarks.md §8).
-- The predicate also names rollout_id IS NOT NULL, always true (the column is NOT NULL): a count of a
-- rollout's active runs (rollout_id = …) proves it as before, a holder read (no rollout_id) cannot, so the
-- index is no longer a plan for it. Dropped and created in the migration's transaction under the same name:
-- the plain CREATE INDEX reads all of task_run while its writers wait (seconds at 10⁶ runs; the index itself
-- holds only active runs), as for 0062.
DROP INDEX task_run_rollout_active_idx;
CREATE INDEX task_run_rollout_active_idx ON task_run (rollout_id)
  WHERE status IN ('AVAILABLE', 'RUNNING') AND rollout_id IS NOT NULL;
