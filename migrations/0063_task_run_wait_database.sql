-- Up Migration
-- A waiting cause knows its run's database (issue 19: the live pass at 1,000,000 pending runs). A database
-- whose sequential run ended used to re-read every unversioned sequential run waiting there (~115 per
-- database at 1M) because DATABASE_BUSY named the holder and each new holder rewrote them all. The holder is
-- now served live by the API (store/task-reads.ts, store/blockers.ts), and the live pass reads only the
-- first few DATABASE_BUSY runs of a freed database, in order, from task_run_wait_db_busy_idx; the
-- PARALLEL_LIMIT runs of a database that became busy (which then wait on it) come from
-- task_run_wait_db_limit_idx, and the rollouts to tell about a new holder from task_run_wait_db_rollout_idx.
--
-- Expand only: the columns are nullable, and a BEFORE INSERT trigger fills them from the run when the writer
-- did not (a replica of the previous release), so every row has them. An upsert of the previous release that
-- updates a row keeps the columns its insert set (a run's database never changes). Contract: the trigger may
-- be dropped a release after every replica writes the columns itself.
ALTER TABLE task_run_wait ADD COLUMN instance_id text;
ALTER TABLE task_run_wait ADD COLUMN database_name text;
ALTER TABLE task_run_wait ADD COLUMN sequential boolean;

UPDATE task_run_wait w SET instance_id = r.instance_id, database_name = r.database_name, sequential = r.sequential
FROM task_run r WHERE r.id = w.run_id;

CREATE FUNCTION task_run_wait_database() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT r.instance_id, r.database_name, r.sequential INTO NEW.instance_id, NEW.database_name, NEW.sequential
  FROM task_run r WHERE r.id = NEW.run_id;
  RETURN NEW;
END $$;
-- Only when the writer left them out: this release's writes never call the function.
CREATE TRIGGER task_run_wait_database BEFORE INSERT ON task_run_wait
  FOR EACH ROW WHEN (NEW.instance_id IS NULL) EXECUTE FUNCTION task_run_wait_database();

-- A freed database's DATABASE_BUSY runs in decide()'s order (after `ahead`, which has its own index below).
CREATE INDEX task_run_wait_db_busy_idx ON task_run_wait (instance_id, database_name, run_created_at, run_id)
  WHERE type = 'DATABASE_BUSY';
-- The rollouts with runs waiting on a database (one probe per rollout, not per run).
CREATE INDEX task_run_wait_db_rollout_idx ON task_run_wait (instance_id, database_name, rollout_id)
  WHERE type = 'DATABASE_BUSY';
-- Sequential runs held by their rollout's limit on a database: DATABASE_BUSY once a run takes it.
CREATE INDEX task_run_wait_db_limit_idx ON task_run_wait (instance_id, database_name, run_id)
  WHERE type = 'PARALLEL_LIMIT' AND sequential;
-- Retried blockers (decide() orders them first) that are sequential, per database: few rows.
CREATE INDEX task_run_pending_ahead_db_idx ON task_run (instance_id, database_name)
  WHERE status = 'PENDING' AND ahead AND sequential;
