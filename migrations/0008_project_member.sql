-- Up Migration
-- Per-project roles: a row replaces the user's global role (app_user.role) inside one project. `none`
-- hides the project from the user. Admins are admins everywhere; a grant never makes anyone an admin.
-- Replicas of the previous release ignore this table (they check the global role only) until replaced.
CREATE TABLE project_member (
  project_id text NOT NULL REFERENCES project (id),
  username text NOT NULL REFERENCES app_user (username),
  role text NOT NULL CHECK (role IN ('none', 'viewer', 'releaser')),
  granted_by text NOT NULL,
  granted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, username)
);
CREATE INDEX project_member_username_idx ON project_member (username);
