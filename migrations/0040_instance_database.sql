-- Up Migration
-- The databases Runway last saw on each instance (listed on the target with the instance's own
-- credentials; refreshed on demand and by a periodic loop), and per project the database groups that name
-- a set of them by rule. Expand only: new tables, read and written by this release alone.
CREATE TABLE instance_database (
  instance_id text NOT NULL REFERENCES instance (id),
  name text NOT NULL,
  seen_at timestamptz NOT NULL,
  PRIMARY KEY (instance_id, name)
);
-- One row per instance that was listed: when, and the error of the last attempt if it failed.
CREATE TABLE instance_database_listing (
  instance_id text PRIMARY KEY REFERENCES instance (id),
  listed_at timestamptz,
  attempted_at timestamptz NOT NULL,
  error text
);
CREATE TABLE database_group (
  project_id text NOT NULL REFERENCES project (id),
  name text NOT NULL CHECK (name ~ '^[a-z][a-z0-9-]{0,62}$'),
  instance_id text NOT NULL REFERENCES instance (id),
  -- Glob over database names ("tenant_*"); NULL matches nothing (the group is its includes).
  pattern text,
  includes text[] NOT NULL DEFAULT '{}',
  excludes text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, name)
);
