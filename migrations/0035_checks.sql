-- Up Migration
-- Checks before a change runs (issue 15). Expand only: replicas of the previous release never read or
-- write these tables (they run tasks without looking at checks, as before).

-- Lint result per task, replaced whenever the task is linted again. `findings` is an array of
-- {rule, severity, message, help, position, length, source}; `lint_error` says why the linter could not run
-- (then findings holds Runway's own rules only).
CREATE TABLE task_check (
  task_id bigint PRIMARY KEY REFERENCES task (id),
  rollout_id bigint NOT NULL REFERENCES rollout (id),
  findings jsonb NOT NULL DEFAULT '[]',
  worst text CHECK (worst IN ('error', 'warning', 'info')),
  lint_error text,
  linted_at timestamptz NOT NULL
);
CREATE INDEX task_check_rollout_idx ON task_check (rollout_id);

-- Dry runs: scheduled and leased like runs (scheduler/dry-run-scheduler.ts). QUEUED → RUNNING → DONE, or
-- LOST when replicas kept dying under it; CANNOT (never executed: the statement cannot run in a
-- transaction) is written directly. The latest row per task is its result.
CREATE TABLE dry_run (
  id bigserial PRIMARY KEY,
  task_id bigint NOT NULL REFERENCES task (id),
  rollout_id bigint NOT NULL REFERENCES rollout (id),
  instance_id text NOT NULL,
  database_name text NOT NULL,
  status text NOT NULL CHECK (status IN ('QUEUED', 'RUNNING', 'DONE', 'LOST', 'CANNOT')),
  outcome text CHECK (outcome IN ('PASSED', 'FAILED', 'CANNOT_DRY_RUN', 'LOST', 'UNREACHABLE')),
  result jsonb,
  requested_by text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  owner_replica text,
  lease_epoch integer NOT NULL DEFAULT 0,
  lease_expires_at timestamptz,
  created_at timestamptz NOT NULL,
  started_at timestamptz,
  finished_at timestamptz
);
-- One active dry run per task; a second request while one is queued or running is a no-op.
CREATE UNIQUE INDEX dry_run_active_task_idx ON dry_run (task_id) WHERE status IN ('QUEUED', 'RUNNING');
CREATE INDEX dry_run_task_idx ON dry_run (task_id, id);
CREATE INDEX dry_run_rollout_idx ON dry_run (rollout_id, id);
CREATE INDEX dry_run_queued_idx ON dry_run (id) WHERE status = 'QUEUED';
-- The database gate reads running dry runs by database; the sweeper reads them by lease.
CREATE INDEX dry_run_running_db_idx ON dry_run (instance_id, database_name) WHERE status = 'RUNNING';

-- A project's check policy and rule overrides ({"rule": "off" | "error" | "warning" | "info"}).
CREATE TABLE project_check_policy (
  project_id text PRIMARY KEY REFERENCES project (id),
  block_on_lint_errors boolean NOT NULL DEFAULT false,
  require_dry_run boolean NOT NULL DEFAULT false,
  rule_overrides jsonb NOT NULL DEFAULT '{}',
  updated_at timestamptz NOT NULL
);

-- An admin's override of the check policy for one task, with the reason (also in the audit log).
CREATE TABLE task_check_override (
  task_id bigint PRIMARY KEY REFERENCES task (id),
  overridden_by text NOT NULL,
  reason text NOT NULL,
  created_at timestamptz NOT NULL
);
