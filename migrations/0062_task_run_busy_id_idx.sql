-- Up Migration
-- A database's holder, the AVAILABLE or RUNNING sequential run on it, is read by (instance, database)
-- ORDER BY id LIMIT 1 (the live pass's `occ_busy`, the full pass's occupancy, the dry-run claim).
-- task_run_busy_idx had no id, so that read needed a sort, and with a queue table's statistics (taken
-- while nothing was active) the planner preferred to scan all of task_run_rollout_active_idx per database:
-- ~0.3 ms a database with 1,000 active runs, 6 of a 9.5 ms live pass (issue 19, docs/benchmarks.md). With
-- the id in the key the holder is the first entry of one probe. The same columns lead, so the previous
-- release's statements use it as they used the old index. Like 0002 and 0048, a plain CREATE INDEX (the
-- migrations run in one transaction): it reads all of task_run while writers wait, though the index itself
-- holds only active sequential runs (docs/upgrading.md).
CREATE INDEX task_run_busy_id_idx ON task_run (instance_id, database_name, id)
  WHERE status IN ('AVAILABLE', 'RUNNING') AND sequential;
DROP INDEX task_run_busy_idx;
