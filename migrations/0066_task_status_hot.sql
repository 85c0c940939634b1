-- Up Migration
-- A task's status update can be HOT (issue 19). Every run transition mirrors the run's status into its task,
-- and no such update could be HOT: `status` was a key of task_rollout_status_idx and in the predicates of
-- task_open_version_idx and task_stage_open_idx, and the transitions stamped `updated_at`, a key of
-- task_rollout_updated_idx. So each claim, promotion and finish wrote a new entry into every index of
-- `task` (~12 of the ~33 WAL records a no-op run wrote, docs/benchmarks.md). After this migration:
--
-- * `unfinished` (status not DONE or SKIPPED), a stored generated column, is what the partial indexes test:
--   it changes only when a task becomes or stops being DONE or SKIPPED, not on PENDING, AVAILABLE, RUNNING,
--   FAILED or CANCELED. The version-order and stage gates read it (store/gating-*.ts).
-- * task_rollout_status_idx is gone. Status filters read the rollout's tasks through task_rollout_idx (a
--   rollout's tasks are stored together), status counts come from 0067's counts per stage, and the
--   ROLLOUT_DONE trigger asks the stage gate's index instead.
-- * The transitions stamp the task's `updated_at` only when its status becomes DONE (not HOT anyway: `unfinished`
--   changes) or CANCELED (rare); the API's changed-since read finds the other changes through the runs
--   (store/task-reads.ts).
-- * fillfactor 70 leaves room on each page for the new row version, which a HOT update needs (with 85 a
--   quarter of the claims still found no room and wrote every index, docs/benchmarks.md §8).
--
-- So a run's creation, promotion, claim or FAILED finish writes the task's heap page and no index entry; a
-- DONE finish still writes one entry per full index (`unfinished` changes).
--
-- Rolling deploys: the previous release's writes are unchanged (the column is generated; nothing inserts
-- it). Its gate reads test `status NOT IN ('DONE', 'SKIPPED')`, which the new partial indexes do not match,
-- so until it is replaced its passes read `task` without them: slower, same answers. Its changed-since
-- read keeps task_rollout_updated_idx, and this release's transitions no longer stamp `updated_at` for
-- non-final statuses, so a dashboard served by a replica of the previous release learns of a claim or a
-- promotion only from its full reload, until that replica is replaced.
--
-- Locks: adding a stored generated column rewrites `task` and rebuilds its indexes under an ACCESS EXCLUSIVE
-- lock (docs/upgrading.md has the time measured at 10⁶ tasks).
ALTER TABLE task SET (fillfactor = 70);
ALTER TABLE task ADD COLUMN unfinished boolean GENERATED ALWAYS AS (status NOT IN ('DONE', 'SKIPPED')) STORED;

DROP INDEX task_rollout_status_idx;
DROP INDEX task_open_version_idx;
DROP INDEX task_stage_open_idx;
-- Serves the VERSION_ORDER gate: the nearest smaller unfinished version on one database.
CREATE INDEX task_open_version_idx ON task (instance_id, database_name, schema_version_key, id)
  WHERE schema_version IS NOT NULL AND unfinished;
-- Serves the stage gate (a stage with an unfinished task holds the later stages) and ROLLOUT_DONE.
CREATE INDEX task_stage_open_idx ON task (stage_id) WHERE unfinished;

-- 0050's function with its three probes of task_rollout_status_idx replaced by one probe of
-- task_stage_open_idx per stage of the rollout (every task is in a stage of its rollout, 0060).
CREATE OR REPLACE FUNCTION runway_webhook_rollout_done() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  proj text;
  ev bigint;
BEGIN
  SELECT r.project_id INTO proj FROM rollout r WHERE r.id = NEW.rollout_id;
  IF NOT EXISTS (SELECT 1 FROM webhook w WHERE w.project_id = proj AND w.enabled AND NOT w.deleted
      AND 'ROLLOUT_DONE' = ANY (w.events)) THEN
    RETURN NULL;
  END IF;
  PERFORM pg_advisory_xact_lock(7301050, (NEW.rollout_id % 2147483647)::int);
  IF EXISTS (SELECT 1 FROM stage s JOIN task t ON t.stage_id = s.id AND t.unfinished WHERE s.rollout_id = NEW.rollout_id) THEN
    RETURN NULL;
  END IF;
  INSERT INTO webhook_event (project_id, kind, rollout_id, dedupe_key, created_at)
  VALUES (proj, 'ROLLOUT_DONE', NEW.rollout_id, 'ROLLOUT_DONE:' || NEW.rollout_id, now())
  ON CONFLICT (dedupe_key) DO NOTHING
  RETURNING id INTO ev;
  IF ev IS NOT NULL THEN
    INSERT INTO webhook_delivery (event_id, webhook_id, next_attempt_at, created_at, retry_since)
    SELECT ev, w.id, now(), now(), now() FROM webhook w
    WHERE w.project_id = proj AND w.enabled AND NOT w.deleted AND 'ROLLOUT_DONE' = ANY (w.events);
    PERFORM pg_notify('runway_webhook', '');
  END IF;
  RETURN NULL;
END $$;
