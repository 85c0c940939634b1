-- Up Migration
-- Failed sign-ins, shared by every replica (issue 11). One row per key: `user:<username>|addr:<address>`
-- (one account guessed from one address) or `addr:<address>` (many accounts guessed from one address).
-- Only failures are counted; a success clears its user+address row. A new table: the previous release
-- never reads it.
CREATE TABLE login_failure (
  key text PRIMARY KEY,
  failures integer NOT NULL CHECK (failures >= 1),
  last_failure_at timestamptz NOT NULL,
  locked_until timestamptz
);
CREATE INDEX login_failure_last_idx ON login_failure (last_failure_at);
