-- Up Migration
-- What Runway last knew of each target database's runway_ledger (issue 16: a preview of a release onto
-- 1,000 tenant databases must not open 1,000 target sessions). Written whenever Runway reads a ledger
-- (preview, create, the listing loop) and appended to when Runway's own runs apply a change there;
-- `entries` is [[schema_version or null, checksum], ...]. Only a cache: the executor's ledger check on the
-- target stays the final word. Expand only: a new table, read and written by this release alone.
CREATE TABLE ledger_snapshot (
  instance_id text NOT NULL REFERENCES instance (id),
  database_name text NOT NULL,
  entries jsonb NOT NULL,
  -- When the full ledger was read (taken before the read started): the snapshot's age.
  read_at timestamptz NOT NULL,
  -- Last change, by a read or by an applied run.
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (instance_id, database_name)
);
