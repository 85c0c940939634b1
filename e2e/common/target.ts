/**
 * The e2e target: a database owned by a non-superuser role on the server's embedded PostgreSQL. Runway
 * refuses targets that reach its control plane (the control database `postgres`, or the server as a
 * superuser), so the browser tests' tasks run here, as production ones would.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { REPO_ROOT } from "./server.js";

interface PgClient {
  connect(): Promise<void>;
  query(sql: string): Promise<{ rowCount: number | null }>;
  end(): Promise<void>;
}
// pg from the server package: the e2e package needs no driver of its own for this one setup step.
const pg = createRequire(path.join(REPO_ROOT, "apps/server/package.json"))("pg") as {
  Client: new (o: { connectionString: string }) => PgClient;
};

export const TARGET_DB = "e2e_target";
const ROLE = "e2e_target";
const PASSWORD = "e2e-target-password";

/** Runs `fn` on one superuser connection, closed afterwards. */
async function asSuperuser(superuserUrl: string, fn: (c: PgClient) => Promise<void>): Promise<void> {
  const c = new pg.Client({ connectionString: superuserUrl });
  await c.connect();
  try {
    await fn(c);
  } finally {
    await c.end();
  }
}

/** The role and the control plane's lock-out (idempotent), then the database `name` owned by the role. */
async function ensureDatabase(c: PgClient, name: string): Promise<void> {
  const role = await c.query(`SELECT 1 FROM pg_roles WHERE rolname = '${ROLE}'`);
  if (!role.rowCount) await c.query(`CREATE ROLE ${ROLE} LOGIN CREATEDB PASSWORD '${PASSWORD}'`);
  await c.query("REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC");
  const db = await c.query(`SELECT 1 FROM pg_database WHERE datname = '${name}'`);
  if (!db.rowCount) await c.query(`CREATE DATABASE ${name} OWNER ${ROLE}`);
}

/** Creates the role and its database (once per server) and returns the instance URL. */
export async function prepareTarget(superuserUrl: string): Promise<string> {
  await asSuperuser(superuserUrl, (c) => ensureDatabase(c, TARGET_DB));
  const url = new URL(superuserUrl);
  url.username = ROLE;
  url.password = PASSWORD;
  url.pathname = `/${TARGET_DB}`;
  return url.toString();
}

/**
 * A database of its own for a spec whose schema versions must not meet other specs' ones: version order
 * spans rollouts per database, so a CANCELED 0001 left by an earlier spec would hold a later 0101.
 */
export async function createTargetDatabase(superuserUrl: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
  await asSuperuser(superuserUrl, (c) => ensureDatabase(c, name));
  return name;
}
