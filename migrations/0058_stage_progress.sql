-- Up Migration
-- Stage progress kept up to date instead of counted on every pass (issue 13's last point, issue 19). The
-- pending pass used to count every stage's open and total tasks for every candidate rollout (O(backlog));
-- a STAGE_GATE cause needs done/total only for the record, and the gate itself stays an EXISTS probe of
-- task_stage_open_idx.
--
-- Writers never update a shared counter row (concurrent finishes of one stage would queue on it): triggers
-- on task append deltas to stage_progress_delta, and the pending pass, under its lock, folds them into
-- stage_progress in the statement that reads the counts (store/gating-stages.ts). Deltas are written in
-- the transaction that changes the task, so a statement sees a task's change and its delta together.
--
-- Rolling deploys: the triggers fire for replicas of the previous release as well, which never read the
-- tables. Creating the triggers and the backfill share this migration's transaction, whose trigger lock on
-- task keeps writers out until both are committed, so no change is counted twice or missed.
CREATE TABLE stage_progress (
  stage_id bigint PRIMARY KEY REFERENCES stage (id),
  total integer NOT NULL,
  -- Tasks DONE or SKIPPED.
  done integer NOT NULL
);

-- No key, no index: only appended, and emptied whole by the pass.
CREATE TABLE stage_progress_delta (
  stage_id bigint NOT NULL,
  total integer NOT NULL,
  done integer NOT NULL
);

-- INSERT and DELETE: one delta row per stage and statement (a 10,000-task rollout appends one per stage).
CREATE FUNCTION stage_progress_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO stage_progress_delta (stage_id, total, done)
    SELECT stage_id, count(*), count(*) FILTER (WHERE status IN ('DONE', 'SKIPPED')) FROM new_rows GROUP BY stage_id;
  ELSE
    INSERT INTO stage_progress_delta (stage_id, total, done)
    SELECT stage_id, -count(*), -count(*) FILTER (WHERE status IN ('DONE', 'SKIPPED')) FROM old_rows GROUP BY stage_id;
  END IF;
  RETURN NULL;
END $$;

-- UPDATE: a row trigger whose WHEN clause is false unless the task enters or leaves DONE/SKIPPED (or moves
-- stage), so most status changes (PENDING, RUNNING, …) never call it.
CREATE FUNCTION stage_progress_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO stage_progress_delta (stage_id, total, done) VALUES
    (OLD.stage_id, -1, CASE WHEN OLD.status IN ('DONE', 'SKIPPED') THEN -1 ELSE 0 END),
    (NEW.stage_id, 1, CASE WHEN NEW.status IN ('DONE', 'SKIPPED') THEN 1 ELSE 0 END);
  RETURN NULL;
END $$;

CREATE TRIGGER task_stage_progress_insert AFTER INSERT ON task
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stage_progress_rows();
CREATE TRIGGER task_stage_progress_delete AFTER DELETE ON task
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION stage_progress_rows();
CREATE TRIGGER task_stage_progress_update AFTER UPDATE OF status, stage_id ON task
  FOR EACH ROW WHEN (OLD.stage_id IS DISTINCT FROM NEW.stage_id
    OR (OLD.status IN ('DONE', 'SKIPPED')) IS DISTINCT FROM (NEW.status IN ('DONE', 'SKIPPED')))
  EXECUTE FUNCTION stage_progress_update();

INSERT INTO stage_progress (stage_id, total, done)
SELECT s.id, count(t.id), count(t.id) FILTER (WHERE t.status IN ('DONE', 'SKIPPED'))
FROM stage s LEFT JOIN task t ON t.stage_id = s.id
GROUP BY s.id;
