-- Up Migration
-- The task list's database filter and database sort (`GET /rollouts/:id/tasks?database=…`, `?sort=database`):
-- without this index both read every task of the rollout (100,000 at most) and sort them; with it, a
-- filter reads only the matching rows and a sorted first page reads one page of the index. Additive
-- only, so replicas of the previous release run on beside it.
CREATE INDEX task_rollout_database_idx ON task (rollout_id, instance_id, database_name, id);
