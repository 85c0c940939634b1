-- Up Migration
-- Releases: an uploaded set of SQL files, immutable once stored. `content_hash` is the SHA-256 over the
-- files' names and contents (domain/release-files.ts), checked again whenever a release is planned.
-- Expand only: new tables, read and written by this release alone.
CREATE TABLE release (
  id bigserial PRIMARY KEY,
  project_id text NOT NULL REFERENCES project (id),
  title text NOT NULL,
  content_hash text NOT NULL,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- The same files uploaded twice to one project are one release (a CI job re-run).
  UNIQUE (project_id, content_hash)
);
CREATE TABLE release_file (
  release_id bigint NOT NULL REFERENCES release (id),
  position integer NOT NULL,
  name text NOT NULL,
  -- NULL: an unversioned change (applied once per distinct content).
  version text,
  description text NOT NULL,
  type text NOT NULL,
  statement text NOT NULL,
  sha256 text NOT NULL,
  PRIMARY KEY (release_id, position),
  UNIQUE (release_id, name)
);
-- Immutable: a stored release never changes (its hash is what a rollout was planned from).
CREATE FUNCTION release_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'releases are immutable' USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER release_no_update BEFORE UPDATE ON release FOR EACH ROW EXECUTE FUNCTION release_immutable();
CREATE TRIGGER release_file_no_update BEFORE UPDATE ON release_file FOR EACH ROW EXECUTE FUNCTION release_immutable();
