-- Up Migration
-- Status counts per stage, kept up to date like stage progress (0058, 0065), so the API's status counts of a
-- rollout cost one row per stage instead of a read of every task (issue 19). 0066 dropped
-- task_rollout_status_idx so that a task's status update is HOT; the counts then read every task of each
-- rollout from the heap (a page of 50 rollouts of 1,000 tasks: 8.7 → 27 ms of SQL, docs/benchmarks.md §5).
--
-- The same statement trigger that appends stage_progress_delta appends one stage_status_delta row per stage
-- whose status counts a statement changed (a claim of 10 runs of one stage appends one row), and the pending
-- pass folds them into stage_status_count in the statement that folds stage progress
-- (store/gating-stages.ts). A read sums the folded row and the deltas not yet folded, both written in the
-- transaction that changed the tasks, so it is exact in its snapshot.
--
-- Rolling deploys: separate tables, not columns of stage_progress_delta, because the previous release's pass
-- deletes the rows of stage_progress_delta it folds and would drop counts it does not know. It never touches
-- these tables, and the trigger (one function, replaced here) fires for its writes too. The LOCK keeps every
-- writer of task out from the backfill until the new function is committed, so no change is counted twice
-- or missed. Contract: stage_progress (total, done) can be read from stage_status_count a release later.
LOCK TABLE task IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE stage_status_count (
  stage_id bigint PRIMARY KEY REFERENCES stage (id),
  not_started integer NOT NULL DEFAULT 0,
  skipped integer NOT NULL DEFAULT 0,
  pending integer NOT NULL DEFAULT 0,
  available integer NOT NULL DEFAULT 0,
  running integer NOT NULL DEFAULT 0,
  done integer NOT NULL DEFAULT 0,
  failed integer NOT NULL DEFAULT 0,
  canceled integer NOT NULL DEFAULT 0
);

-- No key, no index: only appended, and emptied whole by the pass (a read scans what is left unfolded).
CREATE TABLE stage_status_delta (LIKE stage_status_count INCLUDING DEFAULTS);

INSERT INTO stage_status_count (stage_id, not_started, skipped, pending, available, running, done, failed, canceled)
SELECT stage_id,
  count(*) FILTER (WHERE status = 'NOT_STARTED'), count(*) FILTER (WHERE status = 'SKIPPED'),
  count(*) FILTER (WHERE status = 'PENDING'), count(*) FILTER (WHERE status = 'AVAILABLE'),
  count(*) FILTER (WHERE status = 'RUNNING'), count(*) FILTER (WHERE status = 'DONE'),
  count(*) FILTER (WHERE status = 'FAILED'), count(*) FILTER (WHERE status = 'CANCELED')
FROM task GROUP BY stage_id;

-- The statement's rows signed (+1 new, −1 old), summed per stage and status; the stages whose counts moved are
-- appended to both delta tables (stage progress: only when total or done moved). PL/pgSQL, not SQL: its plan
-- is cached per session, where a SQL function's would be made again on every statement.
CREATE FUNCTION stage_counts_append(new_stages bigint[], new_statuses text[], old_stages bigint[], old_statuses text[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  WITH x AS (
    SELECT u.stage_id, u.status, 1 AS n FROM unnest(new_stages, new_statuses) AS u(stage_id, status)
    UNION ALL
    SELECT u.stage_id, u.status, -1 FROM unnest(old_stages, old_statuses) AS u(stage_id, status)
  ),
  g AS (SELECT stage_id, sum(n) AS total, coalesce(sum(n) FILTER (WHERE status IN ('DONE', 'SKIPPED')), 0) AS done,
      coalesce(sum(n) FILTER (WHERE status = 'NOT_STARTED'), 0) AS ns, coalesce(sum(n) FILTER (WHERE status = 'SKIPPED'), 0) AS sk,
      coalesce(sum(n) FILTER (WHERE status = 'PENDING'), 0) AS pe, coalesce(sum(n) FILTER (WHERE status = 'AVAILABLE'), 0) AS av,
      coalesce(sum(n) FILTER (WHERE status = 'RUNNING'), 0) AS ru, coalesce(sum(n) FILTER (WHERE status = 'DONE'), 0) AS dn,
      coalesce(sum(n) FILTER (WHERE status = 'FAILED'), 0) AS fa, coalesce(sum(n) FILTER (WHERE status = 'CANCELED'), 0) AS ca
    FROM x GROUP BY stage_id),
  p AS (INSERT INTO stage_progress_delta (stage_id, total, done) SELECT stage_id, total, done FROM g WHERE total <> 0 OR done <> 0)
  INSERT INTO stage_status_delta (stage_id, not_started, skipped, pending, available, running, done, failed, canceled)
  SELECT stage_id, ns, sk, pe, av, ru, dn, fa, ca FROM g
  WHERE ns <> 0 OR sk <> 0 OR pe <> 0 OR av <> 0 OR ru <> 0 OR dn <> 0 OR fa <> 0 OR ca <> 0;
END $$;

-- One function for the INSERT, DELETE and UPDATE triggers (0058, 0065): an UPDATE's task is in both transition
-- tables, its old row counting off and its new row on. PL/pgSQL plans a statement when it first runs it, so
-- an INSERT trigger, which has no old_rows, never plans the statement that reads it.
CREATE OR REPLACE FUNCTION stage_progress_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ns bigint[] := '{}';
  nt text[] := '{}';
  os bigint[] := '{}';
  ot text[] := '{}';
BEGIN
  IF TG_OP <> 'DELETE' THEN
    SELECT coalesce(array_agg(stage_id), '{}'), coalesce(array_agg(status), '{}') INTO ns, nt FROM new_rows;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    SELECT coalesce(array_agg(stage_id), '{}'), coalesce(array_agg(status), '{}') INTO os, ot FROM old_rows;
  END IF;
  PERFORM stage_counts_append(ns, nt, os, ot);
  RETURN NULL;
END $$;
