import pg from "pg";
import { TaskType } from "@runway/shared";
import type { Db } from "./store/db.js";
import { randomSecret } from "./auth/secrets.js";
import { instanceCreate, type Sealer } from "./store/instances.js";
import { projectCreate } from "./store/projects.js";
import { rolloutCreate, type NewTask } from "./store/rollouts.js";
import { tasksRun } from "./store/task-actions.js";

const DATABASES = ["shop", "billing", "inventory", "search", "auth", "reports", "notify", "ledger"];

/** The demo's target role: owns the demo databases and nothing else (no superuser, no CREATEROLE). */
export const DEMO_ROLE = "runway_demo";
const DEMO_LOCK = 7_301_020;

/**
 * Prepares the embedded server for the demo's targets: a dedicated role that owns only the demo
 * databases (its password random, kept only sealed in the instance row), and a control database that
 * refuses it, so a demo task cannot reach Runway's own tables (docs/security.md). Returns the instance
 * URL.
 */
async function prepareDemoTargets(admin: pg.Client, controlUrl: string): Promise<string> {
  const password = randomSecret(24);
  const role = admin.escapeIdentifier(DEMO_ROLE);
  const exists = await admin.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [DEMO_ROLE]);
  // CREATEDB for the DATABASE_CREATE task; the password is a literal (utility statements take no parameters).
  await admin.query(
    `${exists.rowCount ? "ALTER" : "CREATE"} ROLE ${role} LOGIN CREATEDB NOSUPERUSER NOCREATEROLE NOBYPASSRLS PASSWORD ${admin.escapeLiteral(password)}`,
  );
  const { rows } = await admin.query<{ db: string }>("SELECT current_database() AS db");
  const control = admin.escapeIdentifier(rows[0]!.db);
  await admin.query(`REVOKE CONNECT, TEMPORARY ON DATABASE ${control} FROM PUBLIC`);
  await admin.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${control} TO CURRENT_USER`);
  for (const name of DATABASES) {
    const db = admin.escapeIdentifier(`demo_${name}`);
    const found = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [`demo_${name}`]);
    await admin.query(found.rowCount ? `ALTER DATABASE ${db} OWNER TO ${role}` : `CREATE DATABASE ${db} OWNER ${role}`);
  }
  const url = new URL(controlUrl);
  url.username = DEMO_ROLE;
  url.password = password;
  url.pathname = `/demo_${DATABASES[0]}`;
  return url.toString();
}

/**
 * Seeds a demo on first start of an empty database: a project with a parallel limit, an instance on the
 * same PostgreSQL server (as the demo role, see prepareDemoTargets), eight target databases and a rollout
 * whose runs a person can watch move through PENDING → AVAILABLE → RUNNING → DONE.
 */
export async function seedDemo(db: Db, controlUrl: string, now: Date, secrets: Sealer): Promise<string | null> {
  const admin = new pg.Client({ connectionString: controlUrl });
  await admin.connect();
  try {
    // Replicas starting together: one seeds (and sets the role's password) while the others wait, then
    // find the project. The session lock ends with the connection.
    await admin.query("SELECT pg_advisory_lock($1)", [DEMO_LOCK]);
    const any = await db.selectFrom("project").select("id").limit(1).executeTakeFirst();
    if (any) return null;
    return await seed(db, await prepareDemoTargets(admin, controlUrl), now, secrets);
  } finally {
    await admin.end();
  }
}

async function seed(db: Db, instanceUrl: string, now: Date, secrets: Sealer): Promise<string> {
  await projectCreate(db, { id: "demo", title: "Demo project", parallelTasksPerRollout: 3 });
  await instanceCreate(
    db,
    { id: "local", title: "Local PostgreSQL (demo role)", connectionUrl: instanceUrl, projectIds: ["demo"] },
    secrets,
  );
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
        ...DATABASES.map((d) =>
          schema(
            d,
            "0001",
            `SELECT pg_sleep(2); CREATE TABLE IF NOT EXISTS event (id bigserial PRIMARY KEY, name text NOT NULL, at timestamptz NOT NULL DEFAULT now())`,
          ),
        ),
        ...DATABASES.slice(0, 4).map((d) =>
          schema(d, "0002", `SELECT pg_sleep(3); ALTER TABLE event ADD COLUMN IF NOT EXISTS source text`),
        ),
        ...DATABASES.slice(0, 4).map((d) =>
          t(
            TaskType.DATABASE_DATA_UPDATE,
            d,
            `SELECT pg_sleep(1); INSERT INTO event (name) SELECT 'seed-' || g FROM generate_series(1, 100) g`,
            "0002.1",
          ),
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
