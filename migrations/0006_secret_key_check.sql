-- Up Migration
-- Key check values of the key that encrypts stored secrets (instance connection URLs). The key itself is
-- never in the database (RUNWAY_SECRET_KEY, or a key file in the data directory): a replica proves it holds
-- the same key by opening a check value, and refuses to start when it cannot. During a key rotation two
-- rows exist (old and new key id); apps/server/src/cli/rotate-key.ts removes the old one when done.
CREATE TABLE secret_key_check (
  key_id text PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{16}$'),
  check_value text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
