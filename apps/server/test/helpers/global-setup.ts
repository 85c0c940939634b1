import os from "node:os";
import path from "node:path";
import { promises as fs } from "node:fs";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { freePort, startEmbeddedPostgres, type EmbeddedHandle } from "../../src/db/embedded.js";
import { migrate } from "../../src/db/migrate.js";
import { withDatabase } from "../../src/db/url.js";

declare module "vitest" {
  export interface ProvidedContext {
    pgUrl: string;
  }
}

export const TEMPLATE_DB = "runway_template";

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
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${TEMPLATE_DB}`);
  } finally {
    await admin.end();
  }
  await migrate(withDatabase(url, TEMPLATE_DB));
  project.provide("pgUrl", url);
}

export async function teardown(): Promise<void> {
  await embedded?.stop();
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
}
