import { buildApp, generateKey, hashPassword, loadConfig, Metrics, newApiToken, sha256, startTrust } from "@runway/server";
import { createDb, createPool, tokenCreate, userCreate, type Db, type NewTask } from "@runway/server/store";
import { withDatabase } from "@runway/server/db";
import type pg from "pg";

/** A bench's Runway API: the real app (no scheduler), an admin API token, and calls that throw on any error. */
export interface BenchApi {
  db: Db;
  pool: pg.Pool;
  /** Base URL when listening (`listen: true`); calls then go over a real socket, else through inject. */
  baseUrl: string | undefined;
  call(method: "POST" | "GET", path: string, payload?: object): Promise<{ ms: number; body: any; bytes: number }>; // eslint-disable-line @typescript-eslint/no-explicit-any -- response bodies are checked by the caller
  close(): Promise<void>;
}

export async function startBenchApi(url: string, opts: { env?: Record<string, string>; listen?: boolean } = {}): Promise<BenchApi> {
  const pool = createPool(url, 10, "bench api");
  const db = createDb(pool);
  const config = loadConfig(
    { LOG_LEVEL: "silent", RUNWAY_ADMIN_PASSWORD: "bench-admin-password", RUNWAY_DEMO: "0", RUNWAY_REPLICA_ID: "bench", ...opts.env },
    [],
  );
  const app = await buildApp({
    db,
    pool,
    config,
    metrics: new Metrics(),
    databaseUrl: url,
    dashboardDir: "/nonexistent",
    print: () => undefined,
    trust: await startTrust(db, { ...config, secretKey: generateKey().toString("base64") }),
  });
  await app.ready();
  const baseUrl = opts.listen ? await app.listen({ host: "127.0.0.1", port: 0 }) : undefined;
  const token = newApiToken();
  await userCreate(db, { username: "bench", role: "admin", passwordHash: await hashPassword("bench-admin-password-2"), now: new Date() });
  await tokenCreate(db, { username: "bench", name: "bench", tokenHash: sha256(token), now: new Date() });
  const headers = { authorization: `Bearer ${token}` };
  const call: BenchApi["call"] = async (method, path, payload) => {
    const t = performance.now();
    let status: number;
    let text: string;
    if (baseUrl) {
      const res = await fetch(`${baseUrl}/api/v1${path}`, {
        method,
        headers: { ...headers, ...(payload ? { "content-type": "application/json" } : {}) },
        ...(payload ? { body: JSON.stringify(payload) } : {}),
        signal: AbortSignal.timeout(300_000),
      });
      status = res.status;
      text = await res.text();
    } else {
      const res = await app.inject({ method, url: `/api/v1${path}`, headers, ...(payload ? { payload } : {}) });
      status = res.statusCode;
      text = res.body;
    }
    const ms = performance.now() - t;
    if (status >= 300) throw new Error(`${method} ${path}: ${status} ${text.slice(0, 500)}`);
    return { ms, body: JSON.parse(text), bytes: Buffer.byteLength(text) };
  };
  return {
    db,
    pool,
    baseUrl,
    call,
    async close() {
      await app.close();
      await db.destroy();
    },
  };
}

/**
 * The project and target instance the benches that create rollouts through the API share: project `bench`
 * without a parallel limit, instance `bench-pg` on the bench's PostgreSQL as a target role (`targetUrl`).
 */
export async function seedBenchProject(api: BenchApi, targetUrl: string): Promise<void> {
  await api.call("POST", "/projects", { id: "bench", title: "Bench", parallelTasksPerRollout: 0 });
  await api.call("POST", "/instances", {
    id: "bench-pg",
    title: "Bench targets",
    connectionUrl: withDatabase(targetUrl, "postgres"),
    projectIds: ["bench"],
  });
}

/** A release's shape on `bench-pg`: `databases` tenant databases × `files` versioned files (`statement(i)`, i from 1). */
export const tenantTasks = (databases: number, files: number, statement: (i: number) => string): NewTask[] =>
  Array.from({ length: databases }, (_, d) => `tenant_${String(d + 1).padStart(4, "0")}`).flatMap((database) =>
    Array.from({ length: files }, (_, i) => ({
      type: "DATABASE_SCHEMA_UPDATE" as const,
      instanceId: "bench-pg",
      database,
      statement: statement(i + 1),
      schemaVersion: String(i + 1).padStart(4, "0"),
    })),
  );
