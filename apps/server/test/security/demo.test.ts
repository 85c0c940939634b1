import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_ROLE, seedDemo } from "../../src/demo.js";
import { generateKey, SecretBox } from "../../src/secrets/secret-box.js";
import { secretsStartup } from "../../src/secrets/startup.js";
import { adminQuery, createTestDatabase, serverUrl, waitFor, type TestDatabase } from "../helpers/db.js";
import { withDatabase } from "../../src/db/url.js";
import { guardedRuntime } from "./setup.js";

/**
 * The demo on a fresh control database, through the production executor (target guard, sealed URL):
 * its targets use the non-superuser demo role, and the rollout shows the product alive: running tasks, every
 * kind of waiting cause, one failure and a task scheduled 15 minutes ahead.
 */
let t: TestDatabase;
const secrets = new SecretBox(generateKey());

beforeAll(async () => {
  t = await createTestDatabase();
  await secretsStartup(t.db, secrets);
});
afterAll(async () => {
  const dbs = await adminQuery("SELECT datname FROM pg_database WHERE datname LIKE 'demo\\_%'");
  for (const { datname } of dbs.rows as { datname: string }[]) await adminQuery(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  await adminQuery(`DROP ROLE IF EXISTS ${DEMO_ROLE}`);
  await t?.close();
});

describe("demo", () => {
  it("runs end to end as the demo role, which the control database refuses", async () => {
    const rolloutId = await seedDemo(t.db, withDatabase(serverUrl(), t.name), new Date(), secrets);
    expect(rolloutId).not.toBeNull();
    const instance = await t.db.selectFrom("instance").select("connection_url").where("id", "=", "local").executeTakeFirstOrThrow();
    const url = new URL(secrets.open(instance.connection_url));
    expect(url.username).toBe(DEMO_ROLE);
    expect(instance.connection_url).not.toContain(url.password);
    const role = await adminQuery(
      "SELECT rolsuper, rolcreaterole, has_database_privilege(rolname, $1, 'CONNECT') AS control FROM pg_roles WHERE rolname = $2",
      [t.name, DEMO_ROLE],
    );
    expect(role.rows).toEqual([{ rolsuper: false, rolcreaterole: false, control: false }]);

    // Alive for its first minutes: tasks run, every kind of waiting cause shows, one task fails, one is
    // scheduled 15 minutes ahead.
    const rt = await guardedRuntime(t, secrets);
    try {
      const seen = new Set<string>();
      await waitFor(
        async () => {
          const runs = await t.db
            .selectFrom("task_run as r")
            .leftJoin("task_run_wait as w", "w.run_id", "r.id")
            .select(["r.status", "w.type"])
            .where("r.rollout_id", "=", rolloutId!)
            .execute();
          for (const r of runs) seen.add(r.type ?? r.status);
          const wanted = ["RUNNING", "PARALLEL_LIMIT", "VERSION_ORDER", "DATABASE_BUSY", "RUN_AT", "TARGET_UNREACHABLE", "FAILED"];
          return wanted.every((w) => seen.has(w));
        },
        { timeoutMs: 240_000, intervalMs: 250, what: `every waiting cause, a running and a failed task (seen: ${[...seen].join(", ")})` },
      );
      const failed = await t.db
        .selectFrom("task_run")
        .select(["result"])
        .where("rollout_id", "=", rolloutId!)
        .where("status", "=", "FAILED")
        .execute();
      expect(failed.map((f) => JSON.stringify(f.result))).toEqual([expect.stringContaining("evnt")]);
      const scheduled = await t.db
        .selectFrom("task_run")
        .select(["run_at"])
        .where("rollout_id", "=", rolloutId!)
        .where("run_at", "is not", null)
        .execute();
      expect(scheduled).toHaveLength(1);
      expect(new Date(scheduled[0]!.run_at!).getTime() - Date.now()).toBeGreaterThan(10 * 60_000);
      // The database the demo creates, as the demo role.
      await waitFor(async () => (await adminQuery("SELECT 1 FROM pg_database WHERE datname = 'demo_analytics'")).rowCount === 1, {
        timeoutMs: 240_000,
        intervalMs: 500,
        what: "demo_analytics to be created",
      });
    } finally {
      await rt.stop();
    }
    const created = await adminQuery("SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'demo_analytics'");
    expect(created.rows).toEqual([{ owner: DEMO_ROLE }]);
  }, 420_000);
});
