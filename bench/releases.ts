import os from "node:os";
import pg from "pg";
import { rolloutCreate, type NewTask } from "@runway/server/store";
import { withDatabase } from "@runway/server/db";
import { machineInfo, median, runMain, startBenchPg, writeResult } from "./lib/pg.js";
import { startBenchApi } from "./lib/api-app.js";

/**
 * `pnpm bench` step "releases" (issue 16): a release of 50 files onto a database group of 1,000 tenant
 * databases, 50,000 tasks. Every tenant has a runway_ledger holding 20 older versions, so every preview
 * and create reads 1,000 real ledgers (in parallel, bounded) and plans 50 files against each. Measured
 * through the real HTTP API (buildApp + inject, bearer token): upload, preview (first and repeated), and
 * create. Targets: preview ≤ 3 s, create ≤ 5 s.
 *
 * The first preview finds no ledger snapshot and reads all 1,000 targets (reported apart, as "cold"); the
 * next ones and the creates plan from the snapshots it stored (younger than the create's bound). The
 * insert alone (rolloutCreate with the same 50,000 tasks, no HTTP, no planning) is timed too. With
 * BENCH_RELEASE_KEEP=1 (and BENCH_PG_DIR naming a directory for a kept embedded cluster, or DATABASE_URL a
 * server that outlives the run) the tenant databases are kept and reused by the next run, saving their
 * five-minute setup. Under node bench/tools/measure.mjs use BENCH_PG_DIR: a DATABASE_URL server is not in the measured
 * process tree, so the measure script renices it to 19 with everything else.
 */
const KEEP = process.env.BENCH_RELEASE_KEEP === "1";
const load1 = () => Number(os.loadavg()[0]!.toFixed(1));

const DATABASES = Number(process.env.BENCH_RELEASE_DATABASES ?? 1000);
const FILES = Number(process.env.BENCH_RELEASE_FILES ?? 50);
const REPEAT = 3;
const PREVIEW_TARGET_MS = 3000;
const CREATE_TARGET_MS = 5000;

async function main(): Promise<void> {
  const serverPg = await startBenchPg();
  try {
    const url = await serverPg.freshDatabase("bench_releases");
    const targetUrl = await serverPg.targetRoleUrl();
    const role = new URL(targetUrl).username;
    const admin = new pg.Client({ connectionString: serverPg.serverUrl });
    await admin.connect();
    const t0 = performance.now();
    // One template with a ledger of 20 older versions, then 1,000 copies of it (tenant_0001 …).
    // The template is rebuilt each time (cheap); kept tenants are copies of an identical one.
    await admin.query(`DROP DATABASE IF EXISTS bench_tenant_tmpl WITH (FORCE)`);
    await admin.query(`CREATE DATABASE bench_tenant_tmpl OWNER ${role}`);
    const tmpl = new pg.Client({ connectionString: withDatabase(targetUrl, "bench_tenant_tmpl") });
    await tmpl.connect();
    await tmpl.query(`CREATE TABLE public.runway_ledger (installation_id uuid NOT NULL, task_id bigint NOT NULL, attempt integer NOT NULL,
      run_id bigint NOT NULL, schema_version text, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (installation_id, task_id))`);
    await tmpl.query(`INSERT INTO public.runway_ledger (installation_id, task_id, attempt, run_id, schema_version, checksum)
      SELECT gen_random_uuid(), g, 1, g, '0.' || g, md5(g::text) FROM generate_series(1, 20) g`);
    await tmpl.end();
    const names = Array.from({ length: DATABASES }, (_, i) => `bench_tenant_${String(i + 1).padStart(4, "0")}`);
    const existing = new Set(
      (await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname ~ '^bench_tenant_[0-9]+$'`)).rows.map(
        (r) => r.datname,
      ),
    );
    for (const n of names) {
      // Kept from an earlier run (BENCH_RELEASE_KEEP): the same template's copy, never written since.
      if (KEEP && existing.has(n)) continue;
      await admin.query(`DROP DATABASE IF EXISTS ${n}`);
      await admin.query(`CREATE DATABASE ${n} TEMPLATE bench_tenant_tmpl OWNER ${role}`);
    }
    const seedS = (performance.now() - t0) / 1000;
    console.log(`created ${DATABASES} tenant databases with ledgers in ${seedS.toFixed(0)} s`);

    // The creates measure planning from snapshots: on a loaded machine the cold preview alone can outlast
    // the default 300 s bound, and the creates would then read 1,000 targets again (the cold figure).
    const api = await startBenchApi(url, { env: { RUNWAY_LEDGER_SNAPSHOT_MAX_AGE_MS: "3600000" } });
    const { db, call } = api;

    await call("POST", "/projects", { id: "tenants", title: "Tenants", parallelTasksPerRollout: 0 });
    await call("POST", "/instances", {
      id: "tenant-pg",
      title: "Tenant server",
      connectionUrl: withDatabase(targetUrl, "postgres"),
      projectIds: ["tenants"],
    });
    await call("POST", "/projects/tenants/database-groups", { name: "all", instanceId: "tenant-pg", pattern: "bench_tenant_[0-9]*" });
    const files = Array.from({ length: FILES }, (_, i) => ({
      name: `V${String(i + 1).padStart(4, "0")}__change_${i + 1}.sql`,
      content: `CREATE TABLE IF NOT EXISTS t_${i + 1} (id bigint PRIMARY KEY, payload text);\nCREATE INDEX IF NOT EXISTS t_${i + 1}_payload ON t_${i + 1} (payload);`,
    }));
    const upload = await call("POST", "/projects/tenants/releases", { title: "50 files", files });
    const releaseId = upload.body.id as string;
    const stages = [{ environment: "prod", targets: [{ group: "all" }] }];

    type Plan = { totals: { databases: number; tasks: number; unreadable: number }; ledgers: { readNow: number; fromSnapshot: number } };
    const loads: Record<string, number[]> = { cold: [], preview: [], create: [], insert: [] };
    // No snapshot yet: every ledger is read on its target and stored.
    const cold = await call("POST", `/projects/tenants/releases/${releaseId}/preview`, { stages });
    loads.cold!.push(load1());
    console.log(`preview, cold: ${cold.ms.toFixed(0)} ms, ledgers ${JSON.stringify((cold.body as Plan).ledgers)}`);
    const previews: number[] = [];
    let plan: Plan | undefined;
    let previewBytes = 0;
    for (let i = 0; i < REPEAT; i++) {
      const p = await call("POST", `/projects/tenants/releases/${releaseId}/preview`, { stages });
      previews.push(p.ms);
      loads.preview!.push(load1());
      plan = p.body;
      previewBytes = p.bytes;
      console.log(
        `preview ${i + 1}: ${p.ms.toFixed(0)} ms, ${plan!.totals.databases} databases, ${plan!.totals.tasks} tasks, ledgers ${JSON.stringify(plan!.ledgers)}, load ${loads.preview!.at(-1)}`,
      );
    }
    if (plan!.totals.tasks !== DATABASES * FILES || plan!.totals.unreadable > 0)
      throw new Error(`unexpected plan ${JSON.stringify(plan!.totals)}`);
    const creates: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const c = await call("POST", `/projects/tenants/releases/${releaseId}/rollouts`, { title: `bench ${i + 1}`, stages });
      creates.push(c.ms);
      loads.create!.push(load1());
      console.log(
        `create ${i + 1}: ${c.ms.toFixed(0)} ms, rollout ${c.body.rollout.id} with ${c.body.totals.tasks} tasks, load ${loads.create!.at(-1)}`,
      );
    }
    // The insert alone: the same 50,000 tasks straight into rolloutCreate (statement plan + one insert per table).
    const tasks: NewTask[] = names.flatMap((database) =>
      files.map((f, i) => ({
        type: "DATABASE_SCHEMA_UPDATE" as const,
        instanceId: "tenant-pg",
        database,
        statement: f.content,
        schemaVersion: String(i + 1).padStart(4, "0"),
        applyOnce: "VERSION" as const,
      })),
    );
    const inserts: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const t = performance.now();
      await rolloutCreate(
        db,
        { projectId: "tenants", title: `insert ${i + 1}`, createdBy: "bench", stages: [{ environment: "prod", tasks }] },
        new Date(),
      );
      inserts.push(performance.now() - t);
      loads.insert!.push(load1());
      console.log(`insert alone ${i + 1}: ${inserts.at(-1)!.toFixed(0)} ms, load ${loads.insert!.at(-1)}`);
    }
    await api.close();

    const result = {
      benchmark: "releases",
      description: `A release of ${FILES} files onto a group of ${DATABASES} databases (${DATABASES * FILES} tasks), through the HTTP API; every target's ledger read each time`,
      databases: DATABASES,
      files: FILES,
      tasks: DATABASES * FILES,
      uploadMs: Math.round(upload.ms),
      previewColdMs: Math.round(cold.ms),
      previewMs: { runs: previews.map(Math.round), median: Math.round(median(previews)), target: PREVIEW_TARGET_MS },
      insertMs: { runs: inserts.map(Math.round), median: Math.round(median(inserts)) },
      loadAverage1m: loads,
      previewResponseBytes: previewBytes,
      createMs: { runs: creates.map(Math.round), median: Math.round(median(creates)), target: CREATE_TARGET_MS },
      met: { preview: Math.max(...previews) <= PREVIEW_TARGET_MS, create: Math.max(...creates) <= CREATE_TARGET_MS },
      seedSeconds: Math.round(seedS),
      machine: await machineInfo(),
    };
    console.table([
      { step: "upload (50 files, JSON)", ms: result.uploadMs, target: "" },
      { step: `preview (${DATABASES} ledgers), median of ${REPEAT}`, ms: result.previewMs.median, target: `≤ ${PREVIEW_TARGET_MS}` },
      { step: `create (${DATABASES * FILES} tasks), median of ${REPEAT}`, ms: result.createMs.median, target: `≤ ${CREATE_TARGET_MS}` },
      { step: `preview, cold (no snapshot: ${DATABASES} ledgers read)`, ms: result.previewColdMs, target: "" },
      { step: `insert alone (rolloutCreate), median of ${REPEAT}`, ms: result.insertMs.median, target: "" },
    ]);
    console.log(`wrote ${await writeResult("releases", result)}`);
    // Written before the clean-up: dropping a thousand databases takes a while on a busy machine.
    if (!KEEP) {
      for (const n of names) await admin.query(`DROP DATABASE IF EXISTS ${n} WITH (FORCE)`);
      await admin.query(`DROP DATABASE IF EXISTS bench_tenant_tmpl WITH (FORCE)`);
    }
    await admin.end();
  } finally {
    await serverPg.stop();
  }
}

runMain(main);
