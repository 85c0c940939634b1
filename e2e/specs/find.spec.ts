import { confirmAction } from "../common/dialog.js";
import { readFileSync } from "node:fs";
import { expect, test, uid } from "../common/fixtures.js";
import type { ApiTask, NewTask } from "../common/api.js";
import { prepareTarget, TARGET_DB } from "../common/target.js";

/** Finding tasks: search, filters and sort in the URL, failures grouped by error with bulk retry, CSV export. */
const data = (statement: string): NewTask => ({ type: "DATABASE_DATA_UPDATE", instanceId: "local", database: TARGET_DB, statement });

test.describe.serial("search, filters, sorting, failure groups and CSV", () => {
  // Each test walks several pages on a shared, busy machine.
  test.describe.configure({ timeout: 300_000 });
  let rolloutId: string;
  let stageIds: string[];
  let tasks: ApiTask[];

  test.beforeAll(async ({ env }) => {
    const project = uid("find");
    await env.admin.createProject(project, 0);
    rolloutId = await env.admin.createRollout(project, "Find me", [
      {
        environment: "staging",
        tasks: [
          data("SELECT 1/0"),
          data("SELECT 2/0"),
          data("SELECT 3/0"),
          data("SELECT * FROM no_such_table_a"),
          data("SELECT * FROM no_such_table_b"),
          data("SELECT 1"),
        ],
      },
      { environment: "production", tasks: [data("SELECT 10"), data("SELECT 11")] },
    ]);
    stageIds = (await env.admin.call<{ stages: { id: string }[] }>("GET", `/rollouts/${rolloutId}`)).stages.map((s) => s.id);
    const first = (await env.admin.tasks(rolloutId)).filter((t) => t.stageId === stageIds[0]);
    await env.admin.run(
      rolloutId,
      first.map((t) => t.id),
    );
    await expect
      .poll(async () => (await env.admin.tasks(rolloutId)).filter((t) => t.status === "FAILED" || t.status === "DONE").length, {
        timeout: 60_000,
      })
      .toBe(6);
    tasks = await env.admin.tasks(rolloutId);
  });

  test("a search and filters narrow the table on the server, live in the URL and combine with the chips", async ({ page, signIn }) => {
    await signIn("vera");
    await page.goto(`/rollouts/${rolloutId}`);
    const rows = page.locator("tr[data-task-id]");
    await expect(rows).toHaveCount(8);
    await page.getByTestId("task-search").locator("input").fill("no_such_table");
    await expect(page).toHaveURL(/[?&]q=no_such_table/);
    await expect(rows).toHaveCount(2);
    await expect(page.getByTestId("search-count")).toHaveText("2 matching tasks");
    // Error text is searched too; the FAILED chip combines with it.
    await page.getByTestId("task-search").locator("input").fill("division by zero");
    await expect(rows).toHaveCount(3);
    await page.getByTestId("chip-DONE").click();
    await expect(rows).toHaveCount(0);
    await page.getByTestId("chip-FAILED").click();
    await expect(page).toHaveURL(/status=FAILED/);
    await expect(rows).toHaveCount(3);
    // A shared link keeps all of it.
    await page.reload();
    await expect(page.getByTestId("task-search").locator("input")).toHaveValue("division by zero");
    await expect(rows).toHaveCount(3);
    // Filters by URL: stage and type, then error code.
    await page.goto(`/rollouts/${rolloutId}?stage=${stageIds[1]}&type=DATABASE_DATA_UPDATE`);
    await expect(rows).toHaveCount(2);
    await page.goto(`/rollouts/${rolloutId}?error=42P01`);
    await expect(rows).toHaveCount(2);
    await page.getByTestId("clear-filters").click();
    await expect(rows).toHaveCount(8);
    await expect(page).not.toHaveURL(/error=/);
  });

  test("column headers sort on the server, both ways", async ({ page, signIn }) => {
    await signIn("vera");
    await page.goto(`/rollouts/${rolloutId}`);
    const ids = tasks.map((t) => t.id).sort((a, b) => Number(a) - Number(b));
    const first = page.locator("tr[data-task-id]").first();
    await expect(first).toHaveAttribute("data-task-id", ids[0]!);
    await page.getByTestId("sort-id").click();
    await expect(page).toHaveURL(/order=desc/);
    await expect(first).toHaveAttribute("data-task-id", ids[ids.length - 1]!);
    await expect(page.locator('th[data-col-key="id"]')).toHaveAttribute("aria-sort", "descending");
    await page.getByTestId("sort-status").click();
    await expect(page).toHaveURL(/sort=status/);
    await expect(first).toHaveAttribute("data-status", "NOT_STARTED");
    await page.getByTestId("sort-status").click();
    await expect(first).toHaveAttribute("data-status", "FAILED");
  });

  test("failures grouped by error code; retrying a group starts a new attempt for each of its tasks", async ({ page, signIn, env }) => {
    await signIn("rick");
    await page.goto(`/rollouts/${rolloutId}`);
    await page.getByTestId("group-failures").click();
    await expect(page).toHaveURL(/group=error/);
    const groups = page.getByTestId("failure-group");
    await expect(groups).toHaveCount(2);
    await expect(groups.first()).toHaveAttribute("data-error-code", "22012");
    await expect(groups.first()).toContainText("division by zero");
    const missing = page.locator('[data-testid="failure-group"][data-error-code="42P01"]');
    await missing.getByTestId("group-show").click();
    await expect(page).toHaveURL(/error=42P01/);
    await expect(page.locator("tr[data-task-id]")).toHaveCount(2);
    await missing.getByTestId("group-retry").click();
    await expect(page.getByTestId("confirm-dialog")).toContainText("2 failed or canceled tasks will run again");
    await confirmAction(page);
    const retried = tasks.filter((t) => t.statement.includes("no_such_table")).map((t) => t.id);
    await expect
      .poll(
        async () => (await env.admin.tasks(rolloutId)).filter((t) => retried.includes(t.id) && (t.latestRun?.attempt ?? 0) >= 2).length,
        {
          timeout: 60_000,
        },
      )
      .toBe(2);
    const others = (await env.admin.tasks(rolloutId)).filter((t) => t.statement.includes("/0"));
    expect(others.every((t) => t.latestRun?.attempt === 1)).toBe(true);
  });

  test("CSV export downloads the current view", async ({ page, signIn }) => {
    await signIn("vera");
    await page.goto(`/rollouts/${rolloutId}?error=22012&sort=id&order=desc`);
    await expect(page.locator("tr[data-task-id]")).toHaveCount(3);
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export-csv").click()]);
    expect(download.suggestedFilename()).toBe(`rollout-${rolloutId}-tasks.csv`);
    const lines = readFileSync((await download.path())!, "utf8")
      .trimEnd()
      .split("\r\n");
    expect(lines[0]).toMatch(/^id,stage,instance,database,type,/);
    expect(lines).toHaveLength(4);
    const ids = lines.slice(1).map((l) => l.split(",")[0]);
    expect(ids).toEqual([...ids].sort((a, b) => Number(b) - Number(a)));
    expect(lines.slice(1).every((l) => l.includes(",22012,division by zero,"))).toBe(true);
  });

  test("the timeline groups, collapses, zooms and keeps failures visible", async ({ page, signIn }) => {
    await signIn("vera");
    await page.goto(`/rollouts/${rolloutId}?view=timeline`);
    const bars = page.getByTestId("timeline-bar");
    await expect(page.getByTestId("timeline-group")).toHaveCount(1); // only the first stage ran
    await expect(page.getByTestId("timeline-legend")).toContainText("Failed");
    await expect(page.getByTestId("timeline-now")).toHaveCount(1);
    await expect(page.locator('[data-testid="timeline-bar"][data-kind="exec"]')).toHaveCount(6);
    // Zoomed far out, a failure is still at least 6 px wide.
    for (let i = 0; i < 12; i++) await page.getByTestId("timeline-zoom-out").click();
    const widths = await page
      .locator('[data-testid="timeline-bar"][data-kind="exec"][data-status="FAILED"]')
      .evaluateAll((els) => els.map((e) => e.getBoundingClientRect().width));
    expect(widths.length).toBeGreaterThan(0);
    expect(Math.min(...widths)).toBeGreaterThanOrEqual(6);
    await page.getByTestId("timeline-group").click();
    await expect(page.getByTestId("timeline-group")).toHaveAttribute("aria-expanded", "false");
    await expect(bars).toHaveCount(0);
    await page.getByTestId("timeline-by-database").click();
    await expect(page.getByTestId("timeline-group")).toContainText(TARGET_DB);
    await expect(bars.first()).toBeVisible();
  });
});

test.describe("admin pages", () => {
  test.describe.configure({ timeout: 300_000 });
  test("users: create, change role, disable, reset password", async ({ page, signIn, env }) => {
    await signIn("admin");
    await page.getByTestId("nav-admin").click();
    await expect(page).toHaveURL(/\/admin\/users/);
    const name = `ula${Date.now().toString(36)}`;
    await page.getByTestId("new-username").locator("input").fill(name);
    await page.getByTestId("new-password").locator("input").fill("first-password-1");
    await page.getByTestId("create-user").click();
    const row = page.locator(`[data-testid="user-row"][data-username="${name}"]`);
    await expect(row).toContainText("Viewer");
    await row.getByTestId("user-role").click();
    await page.locator(".n-base-select-option", { hasText: "Releaser" }).click();
    await expect
      .poll(
        async () =>
          (await env.admin.call<{ users: { username: string; role: string }[] }>("GET", "/users")).users.find((u) => u.username === name)
            ?.role,
      )
      .toBe("releaser");
    await row.getByTestId("reset-password").click();
    await row.getByTestId("reset-password-input").locator("input").fill("second-password-2");
    await row.getByTestId("reset-password-save").click();
    await expect(row.getByTestId("reset-password")).toBeVisible();
    const { Api } = await import("../common/api.js");
    await Api.signIn(env.server.url, name, "second-password-2"); // throws unless the new password works
    await row.getByTestId("disable-user").click();
    await confirmAction(page);
    await expect(row.getByTestId("user-status")).toHaveText("Disabled");
    await expect(Api.signIn(env.server.url, name, "second-password-2")).rejects.toThrow(/401|403/);
  });

  test("instances: add one, test a connection and list its databases; audit log: search", async ({ page, signIn, env }) => {
    await signIn("admin");
    await page.goto("/admin/instances");
    // The form as an admin fills it: the connection URL's field showed nothing once, its placeholder (`user@host`)
    // being a message vue-i18n could not compile.
    const id = uid("ui");
    await page.getByTestId("new-instance-id").locator("input").fill(id);
    await page.getByTestId("new-instance-title").locator("input").fill("Added in the browser");
    const url = page.getByTestId("new-instance-url").locator("input");
    await expect(url).toHaveAttribute("placeholder", "postgres://user:password@host:5432/postgres");
    await url.fill(await prepareTarget(env.server.pgUrl));
    await page.getByTestId("create-instance").click();
    const added = page.locator(`[data-testid="instance-row"][data-instance-id="${id}"]`);
    await expect(added).toContainText("Added in the browser");
    await expect(added).toContainText(`:****@`); // the password masked, as every instance's
    const local = page.locator('[data-testid="instance-row"][data-instance-id="local"]');
    await local.getByTestId("test-connection").click();
    const result = page.locator('[data-test-for="local"] [data-testid="test-result"]');
    await expect(result).toHaveAttribute("data-reachable", "true");
    await expect(result.getByTestId("instance-database").filter({ hasText: TARGET_DB })).toHaveCount(1);

    await page.getByTestId("tab-admin-audit").click();
    await expect(page).toHaveURL(/\/admin\/audit/);
    await page.getByTestId("audit-search").locator("input").fill("instance.test");
    await expect(page).toHaveURL(/q=instance.test/);
    await expect(page.getByTestId("audit-row").first()).toHaveAttribute("data-action", "instance.test");
    const actions = await page.getByTestId("audit-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-action")));
    expect(actions.every((a) => a === "instance.test")).toBe(true);
  });

  test("viewers and releasers do not get admin pages", async ({ page, signIn }) => {
    await signIn("rick");
    await expect(page.getByTestId("nav-admin")).toHaveCount(0);
    await page.goto("/admin/users");
    await expect(page).toHaveURL(/\/projects$/);
  });
});
