import pg from "pg";

/**
 * Seeds `pending` PENDING runs over `databases` databases and `rollouts` rollouts (each database belongs
 * to one rollout), plus `reserve` NOT_STARTED tasks whose runs a live pass sees arriving. Per database:
 * 70% versioned schema changes (ascending versions), 25% data updates, 5% unversioned SDL changes. Each
 * rollout has a staging and a prod stage, with environment policies, approvals and pauses (see below).
 * Bulk SQL: seeding 100k runs through the API would measure the API, not the scheduler.
 */
export interface GatingSeed {
  pending: number;
  databases: number;
  rollouts: number;
  reserve: number;
  parallelLimit: number;
}

export const INSTANCE = "bench-i";

export async function seedGating(url: string, s: GatingSeed): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query("BEGIN");
    await c.query(`INSERT INTO project (id, title, parallel_tasks_per_rollout) VALUES ('bench', 'Bench', $1)`, [s.parallelLimit]);
    await c.query(`INSERT INTO instance (id, title, connection_url) VALUES ($1, 'Bench', 'postgres://bench@127.0.0.1:1/x')`, [INSTANCE]);
    await c.query(
      `INSERT INTO rollout (id, project_id, title, created_by) SELECT g, 'bench', 'rollout ' || g, 'bench' FROM generate_series(1, $1) g`,
      [s.rollouts],
    );
    // Release controls (issue 13): two stages per rollout — staging, then prod (stage ids r and R + r). Prod
    // auto-runs and needs a releaser's approval; every fifth rollout ignores stage order, every second
    // rollout's prod is approved, every twentieth is paused; the circuit breaker is armed.
    await c.query(`UPDATE project SET circuit_breaker_failures = 5 WHERE id = 'bench'`);
    await c.query(
      `INSERT INTO environment_policy (project_id, environment, auto_run, approval, updated_by) VALUES
        ('bench', 'staging', false, 'none', 'bench'), ('bench', 'prod', true, 'releaser', 'bench')`,
    );
    await c.query(`UPDATE rollout SET stage_order = 'NONE' WHERE id % 5 = 0`);
    await c.query(`INSERT INTO stage (id, rollout_id, environment, position) SELECT id, id, 'staging', 0 FROM rollout`);
    await c.query(`INSERT INTO stage (id, rollout_id, environment, position) SELECT $1 + id, id, 'prod', 1 FROM rollout`, [s.rollouts]);
    await c.query(`SELECT setval('stage_id_seq', (SELECT max(id) FROM stage))`);
    await c.query(
      `INSERT INTO stage_approval (stage_id, decision, decided_by, decided_at, comment)
       SELECT $1 + id, 'APPROVED', 'bench', now(), '' FROM rollout WHERE id % 2 = 0`,
      [s.rollouts],
    );
    await c.query(`INSERT INTO rollout_pause (rollout_id, paused_by, paused_at) SELECT id, 'bench', now() FROM rollout WHERE id % 20 = 7`);
    const total = s.pending + s.reserve;
    // Task i: database i % D, per-database sequence i / D (so versions ascend per database).
    await c.query(
      `INSERT INTO task (id, rollout_id, stage_id, instance_id, database_name, type, statement, schema_version, schema_version_key, status, created_at, rerunnable)
       -- A quarter of each rollout's databases are staging's, the rest prod's.
       SELECT i + 1, r, CASE WHEN ((i % $2) / $3) % 4 = 0 THEN r ELSE $3 + r END, $4, 'db_' || lpad((i % $2)::text, 5, '0'),
         CASE WHEN k < 70 THEN 'DATABASE_SCHEMA_UPDATE' WHEN k < 95 THEN 'DATABASE_DATA_UPDATE' ELSE 'DATABASE_SDL' END,
         'SELECT 1',
         CASE WHEN k < 70 THEN lpad((i / $2)::text, 6, '0') END,
         CASE WHEN k < 70 THEN 'N' || lpad(length((i / $2)::text)::text, 3, '0') || (i / $2)::text END,
         CASE WHEN i < $5 THEN 'PENDING' ELSE 'NOT_STARTED' END,
         now(), true
       FROM (SELECT i, ((i % $2) % $3) + 1 AS r, (i::bigint * 7919 + 13) % 100 AS k FROM generate_series(0, $1 - 1) i) x`,
      [total, s.databases, s.rollouts, INSTANCE, s.pending],
    );
    await c.query(`SELECT setval('task_id_seq', (SELECT max(id) FROM task))`);
    await c.query(
      `INSERT INTO task_run (task_id, attempt, status, rollout_id, instance_id, database_name, sequential, schema_version_key, created_at, updated_at)
       SELECT id, 1, 'PENDING', rollout_id, instance_id, database_name, type <> 'DATABASE_DATA_UPDATE', schema_version_key,
         now() - interval '1 day' + id * interval '1 millisecond', now()
       FROM task WHERE status = 'PENDING' ORDER BY id`,
    );
    await c.query("COMMIT");
    await c.query("ANALYZE");
  } finally {
    await c.end();
  }
}
