-- Up Migration
-- Running 10,000 tasks (issue 19, `tasks/run` ≤ 1 s) checked two foreign keys on every row it wrote:
-- task_run → task and task_run_log → task_run, 10,000 trigger calls each, ~10% of the statement
-- (docs/benchmarks.md §6a). Neither can fail there: every writer of a run takes its task from the task
-- rows it has just locked (the transition statement's `lk … FOR UPDATE`), and every writer of a log entry
-- takes the run from a row it has just written or read in the same statement (`ch`, `FROM task_run r`).
-- What the keys still guard is the other side: a task or run deleted while runs or log entries point at
-- it. Nothing deletes either today; the check moves to that side, where it costs nothing on the write path:
-- a row trigger refuses such a DELETE with the error the key raised (23503).
--
-- Safe while the previous release runs: it inserts runs and log entries the same way (so nothing it
-- writes would have failed the keys) and never deletes tasks or runs. Dropping a key takes a short
-- ACCESS EXCLUSIVE lock on both tables of the key; no table is read or rewritten.
CREATE FUNCTION refuse_delete_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'task' AND EXISTS (SELECT 1 FROM task_run WHERE task_id = OLD.id) THEN
    RAISE EXCEPTION 'task % has runs', OLD.id USING ERRCODE = 'foreign_key_violation';
  ELSIF TG_TABLE_NAME = 'task_run' AND EXISTS (SELECT 1 FROM task_run_log WHERE task_run_id = OLD.id) THEN
    RAISE EXCEPTION 'task run % has log entries', OLD.id USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN OLD;
END $$;

CREATE TRIGGER task_delete_referenced BEFORE DELETE ON task FOR EACH ROW EXECUTE FUNCTION refuse_delete_referenced();
CREATE TRIGGER task_run_delete_referenced BEFORE DELETE ON task_run FOR EACH ROW EXECUTE FUNCTION refuse_delete_referenced();

ALTER TABLE task_run DROP CONSTRAINT IF EXISTS task_run_task_id_fkey;
ALTER TABLE task_run_log DROP CONSTRAINT IF EXISTS task_run_log_task_run_id_fkey;
