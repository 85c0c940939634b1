-- Up Migration
-- The release controls' causes (PAUSED, STAGE_GATE, APPROVAL_REQUIRED) recorded once per stage, not once per
-- run (issue 19: a full pass over 100,000 pending runs wrote 99,500 causes, 64,500 of them one of these three,
-- each the same for every run of its stage). They come first in decide() (domain/gating.ts firstGate) and
-- depend only on the stage and its rollout, so every PENDING run of a stage has the same one; a full pass that
-- wrote a row per run spent ~6 µs a row on it, half its time.
--
-- A run's recorded cause is its task_run_wait row if it has one, else its stage's stage_wait row: run_wait
-- below, which every reader of a run's cause uses. A pass that records a release control's cause for a run
-- writes the stage's row and deletes the run's own (which would shadow it); one that finds a stage's runs no
-- longer held writes their own rows, and the stage's row goes once no PENDING run of the stage lacks one
-- (gatingStageWaitsSweep), so a run not yet evaluated keeps the cause that still names why it was held.
--
-- Expand only: a replica of the previous release writes run rows for these causes as before, and a run row
-- wins in run_wait; the new release deletes it when it records the stage's cause.
CREATE TABLE stage_wait (
  stage_id bigint PRIMARY KEY REFERENCES stage (id) ON DELETE CASCADE,
  rollout_id bigint NOT NULL,
  type text NOT NULL CHECK (type IN ('PAUSED', 'STAGE_GATE', 'APPROVAL_REQUIRED')),
  cause jsonb NOT NULL
);
-- The stages a completed stage held (the live pass's read when a stage's last task finishes).
CREATE INDEX stage_wait_blocker_idx ON stage_wait (((cause ->> 'stageId')::bigint)) WHERE type = 'STAGE_GATE';

-- Every PENDING run's recorded cause, one row per run, with task_run_wait's columns. A run's task is
-- unfinished while the run is PENDING (t.unfinished lets task_stage_open_idx serve the stage's tasks).
CREATE VIEW run_wait AS
  SELECT w.run_id, w.type, w.cause, w.rollout_id, w.run_created_at, w.instance_id, w.database_name, w.sequential
  FROM task_run_wait w
  UNION ALL
  SELECT r.id, s.type, s.cause, r.rollout_id, r.created_at, r.instance_id, r.database_name, r.sequential
  FROM stage_wait s
  JOIN task t ON t.stage_id = s.stage_id AND t.unfinished
  JOIN task_run r ON r.task_id = t.id AND r.status = 'PENDING'
  WHERE NOT EXISTS (SELECT 1 FROM task_run_wait x WHERE x.run_id = r.id);
