import pg from "pg";
import { TaskType } from "@runway/shared";
import type { Db } from "./store/db.js";
import { instanceCreate } from "./store/instances.js";
import { projectCreate } from "./store/projects.js";
import { rolloutCreate, type NewTask } from "./store/rollouts.js";
import { tasksRun } from "./store/task-actions.js";

const DATABASES = ["shop", "billing", "inventory", "search", "auth", "reports", "notify", "ledger"];

/**
 * Seeds a demo on first start of an empty database: a project with a parallel limit, an instance that is
 * the same PostgreSQL server, eight target databases and a rollout whose runs a person can watch move
 * through PENDING → AVAILABLE → RUNNING → DONE.
 */
export async function seedDemo(db: Db, controlUrl: string, now: Date): Promise<string | null> {
  const any = await db.selectFrom("project").select("id").limit(1).executeTakeFirst();
  if (any) return null;
  const admin = new pg.Client({ connectionString: controlUrl });
  await admin.connect();
  try {
    for (const name of DATABASES) {
      const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [`demo_${name}`]);
      if (!exists.rowCount) await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(`demo_${name}`)}`);
    }
  } finally {
    await admin.end();
  }
  await projectCreate(db, { id: "demo", title: "Demo project", parallelTasksPerRollout: 3 });
  await instanceCreate(db, { id: "local", title: "Local PostgreSQL", connectionUrl: controlUrl });
  const t = (type: NewTask["type"], database: string, statement: string, schemaVersion?: string): NewTask => ({
    type,
    instanceId: "local",
    database: `demo_${database}`,
    statement,
    schemaVersion: schemaVersion ?? null,
  });
  const schema = (d: string, v: string, stmt: string) => t(TaskType.DATABASE_SCHEMA_UPDATE, d, stmt, v);
  const stages = [
    {
      environment: "staging",
      tasks: [
        ...DATABASES.map((d) => schema(d, "0001", `SELECT pg_sleep(2); CREATE TABLE IF NOT EXISTS event (id bigserial PRIMARY KEY, name text NOT NULL, at timestamptz NOT NULL DEFAULT now())`)),
        ...DATABASES.slice(0, 4).map((d) => schema(d, "0002", `SELECT pg_sleep(3); ALTER TABLE event ADD COLUMN IF NOT EXISTS source text`)),
        ...DATABASES.slice(0, 4).map((d) =>
          t(TaskType.DATABASE_DATA_UPDATE, d, `SELECT pg_sleep(1); INSERT INTO event (name) SELECT 'seed-' || g FROM generate_series(1, 100) g`, "0002.1"),
        ),
      ],
    },
    {
      environment: "production",
      tasks: [
        ...DATABASES.map((d) => schema(d, "0003", `SELECT pg_sleep(2); CREATE INDEX IF NOT EXISTS event_at_idx ON event (at)`)),
        t(TaskType.DATABASE_CREATE, "analytics", ""),
      ],
    },
  ];
  const rolloutId = await rolloutCreate(db, { projectId: "demo", title: "Demo: add event tables", createdBy: "system", stages }, now);
  const tasks = await db.selectFrom("task").select("id").where("rollout_id", "=", rolloutId).orderBy("id").execute();
  await tasksRun(db, { rolloutId, taskIds: tasks.map((x) => x.id), runAt: null, actor: "system", now });
  return rolloutId;
}
