-- Up Migration
-- Webhooks (issue 18): per-project endpoints, an outbox of events recorded in the transaction of the state
-- change that caused them, one delivery row per (event, webhook) claimed by any replica with SKIP LOCKED and
-- a lease, and every delivery attempt. Expand only: new tables, and a trigger that inserts into them;
-- replicas of the previous release never read them (their FAILED transitions record no event, which loses
-- at most the events of a rolling upgrade's minutes).

CREATE TABLE webhook (
  id bigserial PRIMARY KEY,
  project_id text NOT NULL REFERENCES project (id),
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  url text NOT NULL CHECK (url ~ '^https?://'),
  kind text NOT NULL CHECK (kind IN ('slack', 'teams', 'discord', 'google_chat', 'generic')),
  events text[] NOT NULL,
  -- Sealed with the secret box (secrets/secret-box.ts); only generic webhooks sign their payloads.
  secret text,
  -- RUN_WAITING_LONG: a run waiting on one cause longer than this is reported once.
  wait_alert_minutes integer NOT NULL DEFAULT 15 CHECK (wait_alert_minutes BETWEEN 1 AND 10080),
  enabled boolean NOT NULL DEFAULT true,
  deleted boolean NOT NULL DEFAULT false,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_project_idx ON webhook (project_id) WHERE NOT deleted;

CREATE TABLE webhook_event (
  id bigserial PRIMARY KEY,
  -- What receivers de-duplicate by: the same on every attempt and every redelivery.
  uid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
  project_id text NOT NULL,
  kind text NOT NULL,
  rollout_id bigint,
  stage_id bigint,
  task_id bigint,
  run_id bigint,
  -- Facts frozen when the event happened (the error message, the waiting cause…).
  facts jsonb NOT NULL DEFAULT '{}',
  -- Events that must happen once (a rollout is DONE once, a run waits long once per cause) carry a key.
  dedupe_key text UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_delivery (
  id bigserial PRIMARY KEY,
  event_id bigint NOT NULL REFERENCES webhook_event (id),
  webhook_id bigint NOT NULL REFERENCES webhook (id),
  -- PENDING (due at next_attempt_at; also while leased), DELIVERED, GAVE_UP (24 h of failures).
  state text NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'DELIVERED', 'GAVE_UP')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  lease_owner text,
  lease_epoch integer NOT NULL DEFAULT 0,
  lease_expires_at timestamptz,
  delivered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Retries stop 24 h after this: the event's time, or the last "redeliver".
  retry_since timestamptz NOT NULL DEFAULT now(),
  UNIQUE (event_id, webhook_id)
);
CREATE INDEX webhook_delivery_due_idx ON webhook_delivery (next_attempt_at, id) WHERE state = 'PENDING';
CREATE INDEX webhook_delivery_webhook_idx ON webhook_delivery (webhook_id, id DESC);

CREATE TABLE webhook_attempt (
  id bigserial PRIMARY KEY,
  delivery_id bigint NOT NULL REFERENCES webhook_delivery (id),
  at timestamptz NOT NULL,
  replica_id text NOT NULL,
  status_code integer,
  duration_ms integer NOT NULL,
  error text,
  ok boolean NOT NULL
);
CREATE INDEX webhook_attempt_delivery_idx ON webhook_attempt (delivery_id, id DESC);

-- RUN_WAITING_LONG: since when each run is seen waiting on its current cause (sampled by the delivery loop).
CREATE TABLE webhook_wait_seen (
  run_id bigint PRIMARY KEY,
  type text NOT NULL,
  since timestamptz NOT NULL
);

-- Rollout DONE (every task DONE or SKIPPED) is decided at COMMIT, not in the statement that changed a task:
-- two transactions finishing a rollout's last two tasks each see the other's task unfinished in their own
-- snapshots. A deferred trigger runs at commit, takes a per-rollout lock, and then reads committed state
-- afresh (a PL/pgSQL statement takes a new snapshot under READ COMMITTED), so the later of the two sees
-- both. Tasks change status in the transitions' statement and in skip (store/task-actions.ts); both fire it.
CREATE FUNCTION runway_webhook_rollout_done() RETURNS trigger LANGUAGE plpgsql AS $$
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
  -- Three index range probes on (rollout_id, status): each stops at its first row.
  IF EXISTS (SELECT 1 FROM task WHERE rollout_id = NEW.rollout_id AND status < 'DONE')
    OR EXISTS (SELECT 1 FROM task WHERE rollout_id = NEW.rollout_id AND status > 'DONE' AND status < 'SKIPPED')
    OR EXISTS (SELECT 1 FROM task WHERE rollout_id = NEW.rollout_id AND status > 'SKIPPED') THEN
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

CREATE CONSTRAINT TRIGGER task_rollout_done_webhook AFTER UPDATE OF status ON task
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (NEW.status IN ('DONE', 'SKIPPED') AND OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION runway_webhook_rollout_done();
