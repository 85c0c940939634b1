-- Up Migration
-- Stage progress deltas from task updates come from one statement trigger per UPDATE of task, in place of
-- 0058's row trigger (issue 19). The row trigger called PL/pgSQL for each task entering or leaving DONE or
-- SKIPPED and appended two rows for it (the old stage's, the new stage's), which the pending pass then
-- deleted: a finish of 10 runs made 10 calls and appended 20 rows, ~2.8 of the ~35 WAL records a no-op run
-- writes (docs/benchmarks.md). The statement trigger sums per stage what the statement changed, from its
-- transition tables, and appends one row per stage whose counts moved: one for a finish of 10 runs of one
-- stage, none for a claim.
--
-- PostgreSQL takes no column list on a trigger with transition tables, so this one fires for every UPDATE
-- of task; one that moves no task into or out of DONE/SKIPPED or between stages appends nothing.
--
-- Rolling deploys: the trigger fires for the previous release's writes as it did, and the deltas mean what
-- they meant (the pass sums them). Replacing the trigger in this migration's transaction leaves no update
-- counted twice or missed.
CREATE OR REPLACE FUNCTION stage_progress_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO stage_progress_delta (stage_id, total, done)
    SELECT stage_id, count(*), count(*) FILTER (WHERE status IN ('DONE', 'SKIPPED')) FROM new_rows GROUP BY stage_id;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO stage_progress_delta (stage_id, total, done)
    SELECT stage_id, -count(*), -count(*) FILTER (WHERE status IN ('DONE', 'SKIPPED')) FROM old_rows GROUP BY stage_id;
  ELSE
    -- Every updated task is in both tables: the old row counts off, the new row counts on.
    INSERT INTO stage_progress_delta (stage_id, total, done)
    SELECT x.stage_id, sum(x.total), sum(x.done) FROM (
      SELECT stage_id, -1 AS total, CASE WHEN status IN ('DONE', 'SKIPPED') THEN -1 ELSE 0 END AS done FROM old_rows
      UNION ALL
      SELECT stage_id, 1, CASE WHEN status IN ('DONE', 'SKIPPED') THEN 1 ELSE 0 END FROM new_rows
    ) x
    GROUP BY x.stage_id HAVING sum(x.total) <> 0 OR sum(x.done) <> 0;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER task_stage_progress_update_rows AFTER UPDATE ON task
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stage_progress_rows();
DROP TRIGGER task_stage_progress_update ON task;
DROP FUNCTION stage_progress_update();
