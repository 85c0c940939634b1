-- Up Migration
-- The change marks a run transition writes for the live pass, as one row per statement (issue 19). A finish of
-- 29 sequential versioned runs in a rollout with a limit wrote 29 + 29 + 4 rows into gating_dirty_database,
-- gating_dirty_task and gating_dirty_rollout, each with its sequence value and primary-key entry: 0.5 of the
-- statement's 2.2 ms, on the running scheduler's finish, which one replica sends one at a time. The same
-- marks are now one row of arrays in a table without key or index: only appended, and emptied whole by the
-- pass that takes the marks (store/gating.ts), as stage_progress_delta is.
--
-- The arrays are what the three tables held: the databases whose sequential run left AVAILABLE/RUNNING (or
-- was canceled while PENDING) — instance_ids[i] and database_names[i] together —, the versioned tasks that
-- became DONE, FAILED or CANCELED, and the rollouts where a finish may free something (see
-- store/transitions/builder.ts). The other writers (the API, the pass's own marks) keep the three tables.
--
-- Rolling deploys: expand only. A replica of the previous release writes the three tables, which this
-- release's passes read as before; its passes do not read this table, so a mark written here waits for a pass
-- of this release (or the next full pass), never lost.
CREATE TABLE gating_dirty_batch (
  instance_ids text[] NOT NULL,
  database_names text[] NOT NULL,
  task_ids bigint[] NOT NULL,
  rollout_ids bigint[] NOT NULL
);
