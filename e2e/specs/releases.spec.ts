import { closeOutcome, confirmAction } from "../common/dialog.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { expectAccessible, usePreferences } from "../common/a11y.js";
import { expect, test, uid, type Env } from "../common/fixtures.js";
import { REPO_ROOT } from "../common/server.js";

/**
 * Issue 16 in the browser: upload a folder of migrations on the New rollout page, pick a database group
 * (its live count shown), preview what each tenant database still needs, create the rollout, and run it.
 */
const pg = createRequire(path.join(REPO_ROOT, "apps/server/package.json"))("pg") as {
  Client: new (o: { connectionString: string }) => { connect(): Promise<void>; query(sql: string): Promise<unknown>; end(): Promise<void> };
};

/**
 * A project (no parallel limit) with a group "tenants" of `count` new databases on the local instance, created
 * by the server's superuser and owned by the target role; returns the project's id.
 */
async function projectWithTenants(env: Env, name: string, count: number): Promise<string> {
  const projectId = uid(name);
  const prefix = projectId.replace(/-/g, "_");
  const su = new pg.Client({ connectionString: env.server.pgUrl });
  await su.connect();
  try {
    for (let n = 1; n <= count; n++) await su.query(`CREATE DATABASE ${prefix}_t${n} OWNER e2e_target`);
  } finally {
    await su.end();
  }
  await env.admin.createProject(projectId, 0);
  await env.admin.call("POST", `/projects/${projectId}/database-groups`, { name: "tenants", instanceId: "local", pattern: `${prefix}_t*` });
  return projectId;
}

test("upload a folder, preview, create, run", async ({ page, signIn, env }) => {
  const projectId = await projectWithTenants(env, "rel", 2);

  const dir = mkdtempSync(path.join(os.tmpdir(), "runway-e2e-release-"));
  writeFileSync(path.join(dir, "V1__create_items.sql"), "CREATE TABLE items (id bigint PRIMARY KEY)");
  writeFileSync(path.join(dir, "V2__add_name.sql"), "ALTER TABLE items ADD COLUMN name text");
  writeFileSync(path.join(dir, "notes.txt"), "not a migration");
  // Flyway's undo script: listed, marked as not run, and never a task.
  writeFileSync(path.join(dir, "U2__undo_name.sql"), "ALTER TABLE items DROP COLUMN name");
  try {
    await signIn("rick");
    await page.goto(`/projects/${projectId}/rollouts`);
    await expect(page.getByTestId("database-groups")).toContainText("tenants");
    await page.getByTestId("new-rollout").click();
    await expect(page).toHaveURL(new RegExp(`/projects/${projectId}/rollouts/new$`));

    await page.getByTestId("pick-folder").setInputFiles(dir);
    await expect(page.getByTestId("release-files").locator("li")).toHaveCount(3);
    await expect(page.getByTestId("release-files").locator("li", { hasText: "U2__undo_name.sql" })).toContainText(
      "not run (a Flyway undo, baseline or callback script)",
    );
    await page.getByTestId("stage-groups").click();
    await page.getByText("tenants (2 databases)").click();
    await expect(page.getByTestId("stage-count")).toContainText("2 databases");

    await page.getByTestId("preview").click();
    await expect(page.getByTestId("plan-summary")).toContainText("2 databases, 4 tasks to run, 0 files already applied");
    // No snapshot yet: both ledgers were read on their targets (and stored as snapshots).
    await expect(page.getByTestId("ledger-sources")).toContainText("Target ledgers: 2 read now");
    await page.getByTestId("create").click();
    await expect(page).toHaveURL(/\/rollouts\/\d+$/);
    await expect(page.locator("tr[data-task-id]")).toHaveCount(4);

    await page.getByTestId("select-all").check();
    await page.getByTestId("bulk-action-run").click();
    await confirmAction(page);
    await expect(page.getByTestId("outcome-summary")).toContainText("4 of 4 changed");
    await closeOutcome(page);
    await expect(page.locator('tr[data-task-id][data-status="DONE"]')).toHaveCount(4, { timeout: 60_000 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("files that could never run are named with line and column (Spanish, dark); fixed, the preview goes on", async ({
  page,
  signIn,
  env,
}) => {
  const projectId = uid("relbad");
  await env.admin.createProject(projectId, 0);
  await env.admin.call("POST", `/projects/${projectId}/database-groups`, { name: "main", instanceId: "local", pattern: "e2e_target" });
  const dir = mkdtempSync(path.join(os.tmpdir(), "runway-e2e-release-bad-"));
  const file = (name: string, content: string) => {
    writeFileSync(path.join(dir, name), content);
    return path.join(dir, name);
  };
  const ok = file("V1__create_things.sql", "CREATE TABLE things (id bigint PRIMARY KEY)");
  const typo = file("V2__typo.sql", "-- añade el nombre\nALTER TABEL things ADD COLUMN name text");
  const todo = file("V3__todo.sql", "-- escrito más tarde");
  const again = file("V01__again.sql", "SELECT 1");
  try {
    await usePreferences(page, "es", "dark");
    await signIn("rick");
    await page.goto(`/projects/${projectId}/rollouts/new`);
    await page.getByTestId("pick-files").setInputFiles([ok, again]);
    await page.getByTestId("stage-groups").click();
    await page.getByText("main (1 base de datos)").click();
    await page.getByTestId("preview").click();
    const alert = page.getByTestId("statement-refusals");
    // Refused before parsing (one file at a time): the file it clashes with, in the user's language.
    await expect(alert.getByTestId("statement-refusal")).toHaveText([
      "V1__create_things.sql: V01__again.sql tiene la misma versión (1); cada versión debe ser única.",
    ]);

    await page.getByTestId("pick-files").setInputFiles([ok, typo, todo]);
    await expect(page.getByTestId("release-files").locator("li")).toHaveCount(3);
    await expect(alert).toHaveCount(0);
    await page.getByTestId("preview").click();

    await expect(alert).toContainText("2 archivos no se pueden ejecutar");
    await expect(alert.getByTestId("statement-refusal")).toHaveText([
      'V2__typo.sql, línea 2, columna 7: PostgreSQL no puede analizar el texto (syntax error at or near "TABEL").',
      "V3__todo.sql: Solo contiene comentarios: no hay nada que ejecutar.",
    ]);
    await expect(page.getByTestId("preview")).toBeDisabled();
    await expectAccessible(page, "release files refused (es, dark)");

    // Fixed and picked again: the refusal goes, the preview plans both files that remain.
    writeFileSync(typo, "ALTER TABLE things ADD COLUMN name text");
    await page.getByTestId("pick-files").setInputFiles([ok, typo]);
    await expect(alert).toHaveCount(0);
    await page.getByTestId("preview").click();
    await expect(page.getByTestId("plan-summary")).toContainText("2 tareas");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("undo scripts alone, and a stage whose group names no database, are said before anything is created", async ({
  page,
  signIn,
  env,
}) => {
  const projectId = uid("relempty");
  await env.admin.createProject(projectId, 0);
  await env.admin.call("POST", `/projects/${projectId}/database-groups`, { name: "typo", instanceId: "local", pattern: "e2e_targt*" });
  const dir = mkdtempSync(path.join(os.tmpdir(), "runway-e2e-release-empty-"));
  writeFileSync(path.join(dir, "V1__create_things.sql"), "CREATE TABLE things (id bigint PRIMARY KEY)");
  writeFileSync(path.join(dir, "U1__undo.sql"), "DROP TABLE things");
  try {
    await signIn("rick");
    await page.goto(`/projects/${projectId}/rollouts/new`);
    // An undo script alone is no change: said, and nothing to preview.
    await page.getByTestId("pick-files").setInputFiles([path.join(dir, "U1__undo.sql")]);
    await page.getByTestId("stage-groups").click();
    await page.getByText("typo (0 databases)").click();
    await expect(page.getByTestId("no-changes")).toHaveText("Every file here is left out: there is no change to roll out.");
    await expect(page.getByTestId("preview")).toBeDisabled();

    await page.getByTestId("pick-files").setInputFiles([path.join(dir, "V1__create_things.sql")]);
    await expect(page.getByTestId("no-changes")).toHaveCount(0);
    await page.getByTestId("preview").click();
    await expect(page.getByTestId("stage-empty")).toHaveText(
      "Stage staging names no database: its groups match none. Check their patterns on the project page.",
    );
    await expect(page.getByText("nothing to roll out")).toHaveCount(0);
    await expect(page.getByTestId("create")).toBeDisabled();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a plan longer than its box (a phone, Japanese, dark): its rows scroll in a region the keyboard reaches", async ({
  page,
  signIn,
  env,
}) => {
  const projectId = await projectWithTenants(env, "relmany", 16);
  const dir = mkdtempSync(path.join(os.tmpdir(), "runway-e2e-release-many-"));
  writeFileSync(path.join(dir, "V1__create_items.sql"), "CREATE TABLE items (id bigint PRIMARY KEY)");
  try {
    await usePreferences(page, "ja", "dark");
    await page.setViewportSize({ width: 390, height: 844 });
    await signIn("rick");
    await page.goto(`/projects/${projectId}/rollouts/new`);
    await page.getByTestId("pick-files").setInputFiles(path.join(dir, "V1__create_items.sql"));
    await page.getByTestId("stage-groups").click();
    await page.getByText(/^tenants.*16/).click();
    await page.keyboard.press("Escape");
    await page.getByTestId("preview").click();
    await expect(page.getByTestId("plan-summary")).toBeVisible();
    // The rows' box (16 rows in 420 px) is a named region in the tab order; the arrow keys scroll it.
    const rows = page.getByTestId("plan-table").getByRole("region", { name: "プランのデータベース" });
    await expect(rows).toHaveAttribute("tabindex", "0");
    await rows.focus();
    await page.keyboard.press("End");
    await expect.poll(() => rows.evaluate((e) => e.scrollTop)).toBeGreaterThan(0);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await expectAccessible(page, "a long release plan on a phone");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
