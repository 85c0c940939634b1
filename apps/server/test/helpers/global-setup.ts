import os from "node:os";
import path from "node:path";
import { promises as fs } from "node:fs";
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { freePort, startEmbeddedPostgres, type EmbeddedHandle } from "../../src/db/embedded.js";
import { migrate } from "../../src/db/migrate.js";
import { withDatabase } from "../../src/db/url.js";

declare module "vitest" {
  export interface ProvidedContext {
    pgUrl: string;
    /** The same server as a non-superuser role that owns the target databases (what instances use). */
    pgTargetUrl: string;
  }
}

export const TEMPLATE_DB = "runway_template";
/** Targets never run as the superuser: the control plane's guard refuses that (docs/security.md). */
export const TARGET_ROLE = "runway_target";

let embedded: EmbeddedHandle | undefined;
let dataDir: string | undefined;

/**
 * Starts PostgreSQL once per test run (embedded under the OS temp dir, or DATABASE_URL when set) and
 * migrates a template database that every test file clones.
 */
export async function setup(project: TestProject): Promise<void> {
  let url = process.env.DATABASE_URL;
  if (!url) {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "runway-test-pg-"));
    embedded = await startEmbeddedPostgres({
      dataDir,
      port: await freePort(),
      persistent: false,
      settings: { fsync: "off", synchronous_commit: "off", full_page_writes: "off" },
    });
    url = embedded.url;
  }
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const targetPassword = randomBytes(18).toString("base64url");
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${TEMPLATE_DB}`);
    // CREATEDB for DATABASE_CREATE tasks; nothing else (no superuser, no CREATEROLE, no server files).
    const exists = await admin.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [TARGET_ROLE]);
    await admin.query(
      `${exists.rowCount ? "ALTER" : "CREATE"} ROLE ${TARGET_ROLE} LOGIN CREATEDB NOSUPERUSER NOCREATEROLE NOBYPASSRLS PASSWORD '${targetPassword}'`,
    );
  } finally {
    await admin.end();
  }
  await migrate(withDatabase(url, TEMPLATE_DB));
  project.provide("pgUrl", url);
  const target = new URL(url);
  target.username = TARGET_ROLE;
  target.password = targetPassword;
  project.provide("pgTargetUrl", target.toString());
}

export async function teardown(): Promise<void> {
  await embedded?.stop();
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
}
