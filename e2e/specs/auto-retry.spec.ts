import { createRequire } from "node:module";
import path from "node:path";
import { expect, test, uid } from "../common/fixtures.js";
import { REPO_ROOT } from "../common/server.js";
import { prepareTarget, TARGET_DB } from "../common/target.js";

interface PgClient {
  connect(): Promise<void>;
  query(sql: string): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
}
// pg from the server package, as common/target.ts does.
const pg = createRequire(path.join(REPO_ROOT, "apps/server/package.json"))("pg") as {
  Client: new (o: { connectionString: string; application_name?: string }) => PgClient;
};

/**
 * Issue 13: a change that waits for a lock held by another transaction. The admin sets the project's
 * retry settings on the settings page; the run waits on the lock (the drawer shows its session and the
 * blocking one), hits the lock timeout, waits RETRY_BACKOFF, and succeeds on its automatic retry once the
 * lock is released.
 */
test("automatic retry after a lock timeout, with the blocker shown in the drawer", async ({ page, signIn, env }) => {
  test.setTimeout(300_000);
  const project = uid("retry");
  const table = `retry_${project.replace(/-/g, "_")}`;
  await env.admin.createProject(project, 0);

  // The target, as the instance's own role; one row that the change will have to lock.
  const targetUrl = await prepareTarget(env.server.pgUrl);
  const setup = new pg.Client({ connectionString: targetUrl });
  await setup.connect();
  await setup.query(`CREATE TABLE ${table} (n int NOT NULL); INSERT INTO ${table} VALUES (0)`);
  await setup.end();

  await signIn("admin");
  await page.goto(`/projects/${project}/settings`);
  const settings = page.getByTestId("retry-settings");
  await expect(settings.getByTestId("retry-maxAutoRetries").locator("input")).toHaveValue("3");
  // Lock waits and backoffs long enough to look at on a loaded machine (a browser action may take seconds).
  for (const [field, value] of [
    ["lockTimeoutMs", "20000"],
    ["maxAutoRetries", "5"],
    ["backoffBaseMs", "15000"],
    ["backoffMaxMs", "15000"],
  ] as const) {
    const input = settings.getByTestId(`retry-${field}`).locator("input");
    await input.fill(value);
    await input.blur();
  }
  await settings.getByTestId("save-retry-settings").click();
  await expect(page.getByText("Saved")).toBeVisible();
  await expect
    .poll(() => env.admin.call<{ lockTimeoutMs: number; backoffBaseMs: number }>("GET", `/projects/${project}/retry-policy`))
    .toMatchObject({ lockTimeoutMs: 20000, maxAutoRetries: 5, backoffBaseMs: 15000 });

  // Another transaction holds the table.
  const locker = new pg.Client({ connectionString: targetUrl, application_name: "e2e lock holder" });
  await locker.connect();
  try {
    await locker.query(`BEGIN; LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    const rolloutId = await env.admin.createRollout(project, "Locked", [
      {
        environment: "prod",
        tasks: [{ type: "DATABASE_DATA_UPDATE", instanceId: "local", database: TARGET_DB, statement: `UPDATE ${table} SET n = n + 1` }],
      },
    ]);
    const [t] = await env.admin.tasks(rolloutId);
    await page.goto(`/rollouts/${rolloutId}`);
    const row = page.locator(`tr[data-task-id="${t!.id}"]`);
    // The drawer is open before the task runs: the panel appears when it is RUNNING.
    await row.locator('td[data-col-key="id"]').click();
    const drawer = page.getByTestId("task-drawer");
    await expect(drawer).toBeVisible();
    await env.admin.run(rolloutId, [t!.id]);

    // While it waits for the lock: its session and the one blocking it.
    await expect(drawer.getByTestId("run-session-wait")).toHaveText("Lock: relation");
    const blockers = drawer.getByTestId("run-session-blockers");
    await expect(blockers).toContainText("e2e lock holder");
    await expect(blockers).toContainText("e2e_target");

    // The lock timeout (20 s): back to waiting for an automatic retry (the first, unless this machine is very slow).
    const badge = drawer.getByTestId("waiting-cause");
    await expect(badge).toHaveAttribute("data-cause", "RETRY_BACKOFF", { timeout: 40_000 });
    await expect(badge).toContainText(/^Automatic retry [1-5] of 5 /);
    await expect(drawer.getByTestId("run-session")).toHaveCount(0);

    await locker.query("COMMIT");
    await expect(row).toHaveAttribute("data-status", "DONE", { timeout: 60_000 });
    // The run's history says it was retried automatically (opened afresh: what anyone looking later sees).
    await page.keyboard.press("Escape");
    await expect(drawer).toHaveCount(0);
    await row.locator('td[data-col-key="id"]').click();
    await expect(drawer.getByTestId("auto-retry")).toHaveText(/^Automatic retry [1-5] of 5$/);
  } finally {
    await locker.end();
  }
  const check = new pg.Client({ connectionString: targetUrl });
  await check.connect();
  expect((await check.query(`SELECT n FROM ${table}`)).rows).toEqual([{ n: 1 }]);
  await check.end();
});
