-- Up Migration
-- Instances belong to projects: a task may only name an instance attached to its rollout's project.
-- Every instance that exists now is attached to every project that exists now, so rollouts that worked
-- before keep working (an admin detaches what should not be shared). Replicas of the previous release
-- neither read nor write this table; instances they create are attached by an admin afterwards.
CREATE TABLE project_instance (
  project_id text NOT NULL REFERENCES project (id),
  instance_id text NOT NULL REFERENCES instance (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, instance_id)
);
CREATE INDEX project_instance_instance_idx ON project_instance (instance_id);
INSERT INTO project_instance (project_id, instance_id)
SELECT p.id, i.id FROM project p CROSS JOIN instance i WHERE NOT p.deleted AND NOT i.deleted;
