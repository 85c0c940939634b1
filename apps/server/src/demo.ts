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
 * same PostgreSQL server (as the demo role, see prepareDemoTargets), one that cannot be reached, eight
 * target databases and a rollout (demoPlan) that is still moving when the first person signs in.
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

/** Where the demo's unreachable instance points: the discard port, where no PostgreSQL listens. */
const OFFLINE_URL = "postgres://runway_demo:unreachable@127.0.0.1:9/demo_archive";
/** How far ahead the demo's scheduled task runs. */
export const DEMO_SCHEDULED_AHEAD_MS = 15 * 60_000;

async function seed(db: Db, instanceUrl: string, now: Date, secrets: Sealer): Promise<string> {
  await projectCreate(db, { id: "demo", title: "Demo project", parallelTasksPerRollout: 3 });
  await instanceCreate(
    db,
    { id: "local", title: "Local PostgreSQL (demo role)", connectionUrl: instanceUrl, projectIds: ["demo"] },
    secrets,
  );
  await instanceCreate(
    db,
    { id: "offline", title: "Offline replica (demo: cannot be reached)", connectionUrl: OFFLINE_URL, projectIds: ["demo"] },
    secrets,
  );
  const plan = demoPlan();
  const rolloutId = await rolloutCreate(
    db,
    // Both stages at once: the demo's one failure is in staging, and the stage gate would hold production
    // (its database creation, its scheduled task) for good.
    { projectId: "demo", title: "Demo: add event tables", createdBy: "system", stages: plan.stages, stageOrder: "NONE" },
    now,
  );
  const tasks = await db.selectFrom("task").select("id").where("rollout_id", "=", rolloutId).orderBy("id").execute();
  const ids = tasks.map((x) => x.id);
  const later = new Set(plan.scheduled.map((i) => ids[i]!));
  await tasksRun(db, { rolloutId, taskIds: ids.filter((id) => !later.has(id)), runAt: null, actor: "system", now });
  await tasksRun(db, { rolloutId, taskIds: [...later], runAt: new Date(now.getTime() + DEMO_SCHEDULED_AHEAD_MS), actor: "system", now });
  return rolloutId;
}

/**
 * The demo rollout, built to look alive for its first minutes rather than finish before anyone signs in:
 * statements sleep 20–60 s, so with the project's limit of 3 both stages are still running minutes in,
 * and there is a task waiting on each kind of cause — PARALLEL_LIMIT (most of them), VERSION_ORDER (a
 * 0002 behind its 0001), DATABASE_BUSY (an unversioned schema change on a database whose 0001 runs),
 * TARGET_UNREACHABLE (a database on an instance nobody can reach), RUN_AT (scheduled 15 minutes ahead:
 * the indices in `scheduled`) — and one failure (a table that does not exist).
 */
export function demoPlan(): { stages: { environment: string; tasks: NewTask[] }[]; scheduled: number[] } {
  const t = (type: NewTask["type"], database: string, statement: string, schemaVersion?: string, instanceId = "local"): NewTask => ({
    type,
    instanceId,
    database: `demo_${database}`,
    statement,
    schemaVersion: schemaVersion ?? null,
  });
  const schema = (d: string, v: string | undefined, stmt: string) => t(TaskType.DATABASE_SCHEMA_UPDATE, d, stmt, v);
  const sleep = (i: number, base: number) => `SELECT pg_sleep(${base + (i % 4) * 5})`;
  const staging: NewTask[] = [
    ...DATABASES.map((d, i) =>
      schema(
        d,
        "0001",
        `${sleep(i, 20)}; CREATE TABLE IF NOT EXISTS event (id bigserial PRIMARY KEY, name text NOT NULL, at timestamptz NOT NULL DEFAULT now())`,
      ),
    ),
    ...DATABASES.slice(0, 3).map((d, i) => schema(d, "0002", `${sleep(i, 15)}; ALTER TABLE event ADD COLUMN IF NOT EXISTS source text`)),
    schema("shop", undefined, "SELECT pg_sleep(10); CREATE TABLE IF NOT EXISTS audit_note (id int)"),
    t(
      TaskType.DATABASE_DATA_UPDATE,
      "shop",
      `SELECT pg_sleep(5); INSERT INTO event (name) SELECT 'seed-' || g FROM generate_series(1, 100) g`,
      "0002.1",
    ),
    // The failure: the table is misspelt.
    schema("reports", "0002", "SELECT pg_sleep(3); ALTER TABLE evnt ADD COLUMN source text"),
    t(TaskType.DATABASE_SCHEMA_UPDATE, "archive", "CREATE TABLE IF NOT EXISTS event_archive (id bigint PRIMARY KEY)", "0001", "offline"),
  ];
  const production: NewTask[] = [
    t(TaskType.DATABASE_CREATE, "analytics", ""),
    ...DATABASES.map((d, i) => schema(d, "0003", `${sleep(i, 30)}; CREATE INDEX IF NOT EXISTS event_at_idx ON event (at)`)),
    schema("ledger", "0004", "ALTER TABLE event ADD COLUMN IF NOT EXISTS amount numeric"),
  ];
  return {
    stages: [
      { environment: "staging", tasks: staging },
      { environment: "production", tasks: production },
    ],
    scheduled: [staging.length + production.length - 1],
  };
}
