import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import pg from "pg";
import { freePort, migrate, startEmbeddedPostgres, withDatabase, type EmbeddedHandle } from "@runway/server/db";

/**
 * The two PostgreSQL servers of a chaos run: the control database's and the targets'. They are separate
 * clusters, so one can restart while the other keeps running, as in production. Each is an embedded
 * server under the OS temp dir; a restart is a fast shutdown (SIGINT to the postmaster: sessions are
 * ended, open transactions roll back) and a start on the same port and data directory.
 *
 * With DATABASE_URL set, both live on that server instead, and restarts are refused.
 */
export interface Cluster {
  readonly name: string;
  /** URL of the `postgres` database on this cluster (the harness connects directly, never via a proxy). */
  readonly serverUrl: string;
  readonly port: number;
  readonly canRestart: boolean;
  /** Fast shutdown, `downMs` down, start again on the same port. Resolves when it accepts connections. */
  restart(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

export interface Clusters {
  control: Cluster;
  target: Cluster;
  /** A fresh, migrated control database on the control cluster. */
  freshControlDatabase(name: string): Promise<string>;
  /**
   * `cluster` as a non-superuser role that may own target databases (created on first call): Runway
   * refuses targets that reach its control cluster as a superuser or as a role that may read it.
   */
  targetRoleUrl(cluster: Cluster): Promise<string>;
  stop(): Promise<void>;
}

const TARGET_ROLE = "chaos_target";

const SETTINGS = { fsync: "off", synchronous_commit: "off", full_page_writes: "off", shared_buffers: "128MB" };

async function embedded(name: string): Promise<Cluster> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), `runway-chaos-${name}-`));
  const port = await freePort();
  // persistent: stop() must not delete the data directory, or a restart would find nothing to start.
  const start = () => startEmbeddedPostgres({ dataDir, port, persistent: true, settings: SETTINGS });
  let handle: EmbeddedHandle = await start();
  let restarting: Promise<void> | undefined;
  return {
    name,
    serverUrl: handle.url,
    port,
    canRestart: true,
    async restart(downMs) {
      if (restarting) return restarting;
      restarting = (async () => {
        await handle.stop();
        await delay(downMs);
        handle = await start();
      })().finally(() => (restarting = undefined));
      return restarting;
    },
    async stop() {
      await restarting?.catch(() => undefined);
      await handle.stop().catch(() => undefined);
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

function external(name: string, url: string): Cluster {
  return {
    name,
    serverUrl: url,
    port: Number(new URL(url).port || 5432),
    canRestart: false,
    restart: async () => {
      throw new Error(`cannot restart ${name}: DATABASE_URL is an external server`);
    },
    stop: async () => undefined,
  };
}

export async function startClusters(): Promise<Clusters> {
  const ext = process.env.DATABASE_URL;
  const [control, target] = ext
    ? [external("control", ext), external("target", ext)]
    : await Promise.all([embedded("control"), embedded("target")]);
  return {
    control,
    target,
    async freshControlDatabase(db) {
      const c = new pg.Client({ connectionString: control.serverUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(db)} WITH (FORCE)`);
        await c.query(`CREATE DATABASE ${c.escapeIdentifier(db)}`);
        // Only Runway's own role may connect: the target role on this cluster must not reach it.
        await c.query(`REVOKE CONNECT, TEMPORARY ON DATABASE ${c.escapeIdentifier(db)} FROM PUBLIC`);
      } finally {
        await c.end();
      }
      const url = withDatabase(control.serverUrl, db);
      await migrate(url);
      return url;
    },
    async targetRoleUrl(cluster) {
      const c = new pg.Client({ connectionString: cluster.serverUrl });
      await c.connect();
      try {
        await c.query(
          `DO $$ BEGIN CREATE ROLE ${TARGET_ROLE} LOGIN CREATEDB PASSWORD '${TARGET_ROLE}'; EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
        );
      } finally {
        await c.end();
      }
      const u = new URL(cluster.serverUrl);
      u.username = TARGET_ROLE;
      u.password = TARGET_ROLE;
      return u.toString();
    },
    async stop() {
      await Promise.all([control.stop(), target.stop()]);
    },
  };
}

/** `url` with its port replaced (a replica's path through a proxy). */
export function viaPort(url: string, port: number): string {
  const u = new URL(url);
  u.port = String(port);
  return u.toString();
}
