import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_ROLE, seedDemo } from "../../src/demo.js";
import { generateKey, SecretBox } from "../../src/secrets/secret-box.js";
import { secretsStartup } from "../../src/secrets/startup.js";
import { adminQuery, createTestDatabase, serverUrl, waitFor, type TestDatabase } from "../helpers/db.js";
import { withDatabase } from "../../src/db/url.js";
import { guardedRuntime } from "./setup.js";

/**
 * The demo on a fresh control database, through the production executor (target guard, sealed URL):
 * its targets use the non-superuser demo role, and the whole rollout reaches DONE.
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

    const rt = await guardedRuntime(t, secrets);
    try {
      const statuses = await waitFor(
        async () => {
          const rows = await t.db.selectFrom("task").select(["status"]).where("rollout_id", "=", rolloutId!).execute();
          return rows.every((r) => ["DONE", "FAILED", "CANCELED"].includes(r.status)) && rows.map((r) => r.status);
        },
        { timeoutMs: 240_000, intervalMs: 500, what: "the demo rollout to finish" },
      );
      const failed = await t.db
        .selectFrom("task_run")
        .select(["result"])
        .where("rollout_id", "=", rolloutId!)
        .where("status", "<>", "DONE")
        .execute();
      expect(failed.map((f) => JSON.stringify(f.result))).toEqual([]);
      expect(new Set(statuses)).toEqual(new Set(["DONE"]));
    } finally {
      await rt.stop();
    }
    const created = await adminQuery("SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'demo_analytics'");
    expect(created.rows).toEqual([{ owner: DEMO_ROLE }]);
  }, 300_000);
});
