-- Up Migration
-- task_run_active_idx (status, id) over PENDING, AVAILABLE and RUNNING runs served one read, the gauge of
-- runs per active status (GET /metrics), yet every run entered it on each of those transitions: created or
-- requeued PENDING, promoted, claimed. Each is an index entry and a WAL record on the path where a run writes
-- ~25 index entries in all (issue 19, docs/benchmarks.md). Each of those statuses has a partial index of
-- its own (task_run_pending_db_idx, task_run_available_idx, task_run_owner_idx), and the gauge counts
-- from them now. Dropping an index takes a short ACCESS EXCLUSIVE lock on task_run and reads nothing.
DROP INDEX task_run_active_idx;
