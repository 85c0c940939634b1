-- Up Migration
-- Release controls (issue 13): the stage-order gate, per-environment policies (auto-run, approvals), stage
-- approvals, pausing a rollout and the circuit breaker. Expand only: replicas of the previous release
-- ignore every new column and table (they neither gate on stages nor honour pauses; the first new replica's
-- passes and claims do).

-- IN_ORDER: a run of a stage waits until every task of every earlier stage is DONE or SKIPPED.
ALTER TABLE rollout ADD COLUMN stage_order text NOT NULL DEFAULT 'IN_ORDER' CHECK (stage_order IN ('NONE', 'IN_ORDER'));
-- The circuit breaker counts failed runs finished after this time (set on resume), so a resumed rollout
-- is not paused again at once for the failures that tripped it.
ALTER TABLE rollout ADD COLUMN breaker_reset_at timestamptz;
-- Pause a rollout automatically after this many failed runs (0: never).
ALTER TABLE project ADD COLUMN circuit_breaker_failures integer NOT NULL DEFAULT 0 CHECK (circuit_breaker_failures >= 0);

-- Per project and environment (a stage's `environment`): run the stage when the previous one completes,
-- and who must approve its runs first. No row: no auto-run, no approval.
CREATE TABLE environment_policy (
  project_id text NOT NULL REFERENCES project (id),
  environment text NOT NULL CHECK (length(environment) BETWEEN 1 AND 100),
  auto_run boolean NOT NULL DEFAULT false,
  approval text NOT NULL DEFAULT 'none' CHECK (approval IN ('none', 'releaser', 'admin')),
  -- The approver may not be the rollout's creator (a second pair of eyes).
  approver_not_creator boolean NOT NULL DEFAULT false,
  updated_by text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, environment)
);

-- Every approval and rejection of a stage; the latest decides. Kept forever (who, when, why).
CREATE TABLE stage_approval (
  id bigserial PRIMARY KEY,
  stage_id bigint NOT NULL REFERENCES stage (id),
  decision text NOT NULL CHECK (decision IN ('APPROVED', 'REJECTED')),
  decided_by text NOT NULL,
  decided_at timestamptz NOT NULL,
  comment text NOT NULL DEFAULT '' CHECK (length(comment) <= 2000)
);
CREATE INDEX stage_approval_stage_idx ON stage_approval (stage_id, id DESC);

-- A paused rollout: no promotion and no claim of its runs. A narrow table of its own so the claim's guard
-- (NOT EXISTS here) probes an almost always empty index.
CREATE TABLE rollout_pause (
  rollout_id bigint PRIMARY KEY REFERENCES rollout (id),
  paused_by text NOT NULL,
  paused_at timestamptz NOT NULL,
  reason text NOT NULL DEFAULT '' CHECK (length(reason) <= 2000),
  -- Set by the circuit breaker rather than a person.
  automatic boolean NOT NULL DEFAULT false
);

-- The stage gate: open tasks of one stage (count and existence) without reading the stage's finished ones.
CREATE INDEX task_stage_open_idx ON task (stage_id) WHERE status NOT IN ('DONE', 'SKIPPED');
-- The circuit breaker: a rollout's failed runs since its last resume.
CREATE INDEX task_run_rollout_failed_idx ON task_run (rollout_id, finished_at) WHERE status = 'FAILED';
-- The live pass: runs held by a stage that has just completed.
CREATE INDEX task_run_wait_stage_idx ON task_run_wait (((cause ->> 'stageId')::bigint)) WHERE type = 'STAGE_GATE';

-- The new waiting causes. NOT VALID + VALIDATE keeps the lock short; old replicas never write them.
ALTER TABLE task_run_wait DROP CONSTRAINT task_run_wait_type_check;
ALTER TABLE task_run_wait ADD CONSTRAINT task_run_wait_type_check
  CHECK (type IN ('RUN_AT', 'VERSION_ORDER', 'DATABASE_BUSY', 'PARALLEL_LIMIT', 'TARGET_UNREACHABLE',
    'STAGE_GATE', 'APPROVAL_REQUIRED', 'PAUSED')) NOT VALID;
ALTER TABLE task_run_wait VALIDATE CONSTRAINT task_run_wait_type_check;
