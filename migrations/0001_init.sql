-- Up Migration
-- Runway's control-plane schema. Statuses are checked by the database; at most one active run per task is
-- enforced by a partial unique index. Never edit this file once applied: add a new numbered file.

-- Identifies this Runway installation in the target databases' ledgers, so two installations (or test
-- databases) applying to one target never mistake each other's task ids.
CREATE TABLE installation (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  singleton boolean NOT NULL DEFAULT true UNIQUE CHECK (singleton),
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO installation DEFAULT VALUES;

CREATE TABLE project (
  id text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{0,62}$'),
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  parallel_tasks_per_rollout integer NOT NULL DEFAULT 0 CHECK (parallel_tasks_per_rollout >= 0),
  deleted boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE instance (
  id text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{0,62}$'),
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  engine text NOT NULL DEFAULT 'POSTGRES' CHECK (engine IN ('POSTGRES')),
  connection_url text NOT NULL,
  deleted boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rollout (
  id bigserial PRIMARY KEY,
  project_id text NOT NULL REFERENCES project (id),
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rollout_project_idx ON rollout (project_id, id DESC);

CREATE TABLE stage (
  id bigserial PRIMARY KEY,
  rollout_id bigint NOT NULL REFERENCES rollout (id),
  environment text NOT NULL,
  position integer NOT NULL,
  UNIQUE (rollout_id, position)
);

CREATE TABLE task (
  id bigserial PRIMARY KEY,
  rollout_id bigint NOT NULL REFERENCES rollout (id),
  stage_id bigint NOT NULL REFERENCES stage (id),
  instance_id text NOT NULL REFERENCES instance (id),
  database_name text NOT NULL,
  type text NOT NULL CHECK (type IN ('DATABASE_CREATE', 'DATABASE_SCHEMA_UPDATE', 'DATABASE_SDL', 'DATABASE_DATA_UPDATE')),
  statement text NOT NULL,
  schema_version text,
  -- Byte-ordered encoding of schema_version (see packages/shared/src/version.ts).
  schema_version_key text COLLATE "C",
  skipped boolean NOT NULL DEFAULT false,
  skip_reason text,
  -- Derived status (NOT_STARTED, SKIPPED or the latest run's status), kept in step with task_run by the
  -- store in the same statement that changes the run, so lists and counts never scan run history.
  status text NOT NULL DEFAULT 'NOT_STARTED' CHECK (status IN
    ('NOT_STARTED', 'SKIPPED', 'PENDING', 'AVAILABLE', 'RUNNING', 'DONE', 'FAILED', 'CANCELED')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((schema_version IS NULL) = (schema_version_key IS NULL)),
  CHECK (skipped = (status = 'SKIPPED'))
);
CREATE INDEX task_rollout_status_idx ON task (rollout_id, status, id);
CREATE INDEX task_rollout_idx ON task (rollout_id, id);
CREATE INDEX task_stage_idx ON task (stage_id, id);
-- Serves the VERSION_ORDER gate: the nearest smaller unfinished version on one database.
CREATE INDEX task_open_version_idx ON task (instance_id, database_name, schema_version_key, id)
  WHERE schema_version IS NOT NULL AND status NOT IN ('DONE', 'SKIPPED');

CREATE TABLE task_run (
  id bigserial PRIMARY KEY,
  task_id bigint NOT NULL REFERENCES task (id),
  attempt integer NOT NULL CHECK (attempt >= 1),
  status text NOT NULL CHECK (status IN ('PENDING', 'AVAILABLE', 'RUNNING', 'DONE', 'FAILED', 'CANCELED')),
  -- Copied from the task (immutable there) so the schedulers gate on this table alone.
  rollout_id bigint NOT NULL,
  instance_id text NOT NULL,
  database_name text NOT NULL,
  sequential boolean NOT NULL,
  schema_version_key text COLLATE "C",
  -- Whether recovery may put this run back to AVAILABLE after its owner died (transactional statements).
  rerunnable boolean NOT NULL DEFAULT true,
  run_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  created_by text,
  canceled_by text,
  owner_replica text,
  lease_expires_at timestamptz,
  -- Incremented by every claim: with the attempt, the fencing token of the current owner.
  lease_epoch integer NOT NULL DEFAULT 0,
  cancel_requested_at timestamptz,
  -- The waiting cause of a PENDING run lives in task_run_wait (below).
  result jsonb,
  UNIQUE (task_id, attempt)
);
CREATE UNIQUE INDEX task_run_one_active_per_task ON task_run (task_id)
  WHERE status IN ('PENDING', 'AVAILABLE', 'RUNNING');
CREATE INDEX task_run_active_idx ON task_run (status, id)
  WHERE status IN ('PENDING', 'AVAILABLE', 'RUNNING');
-- Pending scheduler access paths.
CREATE INDEX task_run_pending_db_idx ON task_run (instance_id, database_name, created_at, id)
  WHERE status = 'PENDING';
CREATE INDEX task_run_pending_unversioned_seq_idx ON task_run (instance_id, database_name)
  WHERE status = 'PENDING' AND sequential AND schema_version_key IS NULL;
CREATE INDEX task_run_pending_version_idx ON task_run (instance_id, database_name, schema_version_key)
  WHERE status = 'PENDING' AND schema_version_key IS NOT NULL;
CREATE INDEX task_run_pending_run_at_idx ON task_run (run_at)
  WHERE status = 'PENDING' AND run_at IS NOT NULL;
CREATE INDEX task_run_pending_rollout_idx ON task_run (rollout_id, created_at, id)
  WHERE status = 'PENDING';
CREATE INDEX task_run_busy_idx ON task_run (instance_id, database_name)
  WHERE status IN ('AVAILABLE', 'RUNNING') AND sequential;
CREATE INDEX task_run_rollout_active_idx ON task_run (rollout_id)
  WHERE status IN ('AVAILABLE', 'RUNNING');
CREATE INDEX task_run_owner_idx ON task_run (owner_replica) WHERE status = 'RUNNING';

-- Why a PENDING run waits, one row per waiting run, persisted so any replica can report it. Kept beside
-- task_run rather than as a column of it: a full gating pass may rewrite 100k causes, and an update of
-- task_run touches its seven indexes (measured ~7x slower than this narrow table). Rows go away when
-- the run leaves PENDING.
CREATE TABLE task_run_wait (
  -- No foreign key: a full pass writes up to one row per PENDING run, and a per-row RI check would
  -- cost as much as the write. The store deletes the row in the statement that moves the run on.
  run_id bigint PRIMARY KEY,
  type text NOT NULL CHECK (type IN ('RUN_AT', 'VERSION_ORDER', 'DATABASE_BUSY', 'PARALLEL_LIMIT')),
  cause jsonb NOT NULL,
  -- Copied from the run so a freed rollout finds its oldest limit-held runs through one index.
  rollout_id bigint NOT NULL,
  run_created_at timestamptz NOT NULL
);
CREATE INDEX task_run_wait_limit_idx ON task_run_wait (rollout_id, run_created_at, run_id)
  WHERE type = 'PARALLEL_LIMIT';

CREATE TABLE task_run_log (
  id bigserial PRIMARY KEY,
  task_run_id bigint NOT NULL REFERENCES task_run (id),
  at timestamptz NOT NULL DEFAULT now(),
  type text NOT NULL,
  replica_id text,
  payload jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX task_run_log_run_idx ON task_run_log (task_run_id, id);

CREATE TABLE replica (
  id text PRIMARY KEY,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  hostname text,
  pid integer,
  stopping boolean NOT NULL DEFAULT false
);

-- Change tracking for the pending scheduler's live pass: writers record what they changed in the same
-- transaction; a pass takes the rows (DELETE … RETURNING) and re-evaluates only what they name. The tables
-- are append-only (no unique key on what they name): a writer never waits for a pass holding the same key,
-- and a pass merges duplicates itself.
-- Runs created since the last pass (never evaluated yet).
CREATE TABLE gating_dirty_run (
  id bigserial PRIMARY KEY,
  run_id bigint NOT NULL
);
CREATE TABLE gating_dirty_database (
  id bigserial PRIMARY KEY,
  instance_id text NOT NULL,
  database_name text NOT NULL,
  -- New versioned tasks from this version key up may now be blocked: re-check runs above it.
  version_from text COLLATE "C"
);
-- Versioned tasks that became DONE or SKIPPED: runs they held by version order may go.
CREATE TABLE gating_dirty_task (
  id bigserial PRIMARY KEY,
  task_id bigint NOT NULL
);
CREATE TABLE gating_dirty_rollout (
  id bigserial PRIMARY KEY,
  rollout_id bigint NOT NULL,
  -- The limit itself changed: every limit-held run needs its cause rewritten.
  all_limited boolean NOT NULL DEFAULT false
);
CREATE TABLE gating_state (
  id integer PRIMARY KEY CHECK (id = 1),
  full_pass_requested boolean NOT NULL DEFAULT true,
  last_full_pass_at timestamptz,
  -- `now` of the last pass: runs whose run-at time falls after it are due for a look.
  last_pass_at timestamptz
);
INSERT INTO gating_state (id) VALUES (1);

CREATE TABLE app_user (
  username text PRIMARY KEY CHECK (username ~ '^[a-z][a-z0-9._-]{0,63}$'),
  password_hash text NOT NULL,
  role text NOT NULL CHECK (role IN ('viewer', 'releaser', 'admin')),
  disabled boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_session (
  id text PRIMARY KEY,
  username text NOT NULL REFERENCES app_user (username),
  csrf_token text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);

CREATE TABLE api_token (
  id bigserial PRIMARY KEY,
  username text NOT NULL REFERENCES app_user (username),
  name text NOT NULL,
  token_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);

CREATE TABLE audit_log (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  actor text,
  action text NOT NULL,
  target text,
  outcome text NOT NULL,
  detail jsonb
);
CREATE INDEX audit_log_at_idx ON audit_log (id DESC);
