import { Api } from "../common/api.js";
import { startTcpProxy } from "../common/tcp-proxy.js";
import { TARGET_DB } from "../common/target.js";
import { expect, PASSWORD, test, uid } from "../common/fixtures.js";

test.describe("roles", () => {
  test("a viewer sees no action buttons, and the server refuses anyway", async ({ page, signIn, env }) => {
    const project = uid("viewer");
    await env.admin.createProject(project, 0);
    const rolloutId = await env.admin.createRollout(project, "Read only", [
      { environment: "prod", tasks: [{ type: "DATABASE_DATA_UPDATE", instanceId: "local", database: TARGET_DB, statement: "SELECT 1" }] },
    ]);
    const [t] = await env.admin.tasks(rolloutId);

    await signIn("vera");
    await page.goto(`/rollouts/${rolloutId}`);
    await expect(page.locator(`tr[data-task-id="${t!.id}"]`)).toHaveAttribute("data-status", "NOT_STARTED");
    await expect(page.locator("[data-testid^=row-action-]")).toHaveCount(0);
    await expect(page.locator("[data-testid^=bulk-action-]")).toHaveCount(0);
    await expect(page.locator(".task-table input[type=checkbox]")).toHaveCount(0);
    await expect(page.getByRole("button", { name: "Run", exact: true })).toHaveCount(0);

    const vera = await Api.signIn(env.server.url, "vera", PASSWORD);
    await expect(vera.call("POST", `/rollouts/${rolloutId}/tasks/run`, { taskIds: [t!.id] })).rejects.toThrow(/403/);

    // The same page for a releaser offers the actions that NOT_STARTED allows.
    await page.getByTestId("sign-out").click();
    await signIn("rick");
    await page.goto(`/rollouts/${rolloutId}`);
    const row = page.locator(`tr[data-task-id="${t!.id}"]`);
    await expect(row.getByTestId("row-action-run")).toBeVisible();
    await expect(row.getByTestId("row-action-skip")).toBeVisible();
    await expect(row.getByTestId("row-action-cancel")).toHaveCount(0);
  });

  test("project settings: an admin changes the parallel limit; others are turned away", async ({ page, signIn, env }) => {
    const project = uid("settings");
    await env.admin.createProject(project, 3);
    await signIn("admin");
    await page.goto("/projects");
    await page.locator(`[data-project-id="${project}"]`).getByTestId("project-settings").click();
    await expect(page).toHaveURL(new RegExp(`/projects/${project}/settings$`));
    const input = page.getByTestId("parallel-limit").locator("input");
    await expect(input).toHaveValue("3");
    await input.fill("5");
    await page.getByTestId("save-settings").click();
    await expect(page.getByText("Saved")).toBeVisible();
    await expect.poll(async () => (await env.admin.getProject(project)).parallelTasksPerRollout).toBe(5);
    // The project's page leads to its settings too, and the settings page back to it.
    await page.getByTestId("settings-back").click();
    await expect(page).toHaveURL(new RegExp(`/projects/${project}/rollouts$`));
    await page.getByTestId("open-project-settings").click();
    await expect(page).toHaveURL(new RegExp(`/projects/${project}/settings$`));
    await expect(page.getByRole("heading", { level: 1 })).toContainText("Project settings");

    await page.getByTestId("sign-out").click();
    await signIn("rick");
    await page.goto("/projects");
    await expect(page.locator(`[data-project-id="${project}"]`)).toBeVisible();
    await expect(page.locator(`[data-project-id="${project}"]`).getByTestId("project-settings")).toHaveCount(0);
    await page.goto(`/projects/${project}/rollouts`);
    await expect(page.getByTestId("rollout-list")).toBeVisible();
    await expect(page.getByTestId("open-project-settings")).toHaveCount(0);
    await page.goto(`/projects/${project}/settings`);
    await expect(page).toHaveURL(/\/projects$/);
  });
});

test.describe("project forms", () => {
  test("an admin adds a webhook and a database group through their forms; the API reads what they entered", async ({
    page,
    signIn,
    env,
  }) => {
    const project = uid("forms");
    await env.admin.createProject(project, 3);
    await signIn("admin");

    await page.goto(`/projects/${project}/settings`);
    await page.getByTestId("webhook-title").locator("input").fill("ops chat");
    await page.getByTestId("webhook-url").locator("input").fill("https://hooks.example.invalid/runway");
    await page.getByTestId("webhook-add").click();
    await expect(page.getByTestId("webhook-list")).toContainText("ops chat");
    const { webhooks } = await env.admin.call<{ webhooks: { title: string; url: string; kind: string; enabled: boolean }[] }>(
      "GET",
      `/projects/${project}/webhooks`,
    );
    expect(webhooks.map((w) => ({ title: w.title, url: w.url, kind: w.kind, enabled: w.enabled }))).toEqual([
      { title: "ops chat", url: "https://hooks.example.invalid/runway", kind: "slack", enabled: true },
    ]);

    // With no group yet, the new-rollout page says where to add one, and its link leads there.
    await page.goto(`/projects/${project}/rollouts/new`);
    await page.getByTestId("no-groups").getByRole("link").click();
    await expect(page).toHaveURL(new RegExp(`/projects/${project}/rollouts$`));
    const groups = page.getByTestId("database-groups");
    await expect(groups.getByTestId("groups-empty")).toHaveText(/No database groups yet\. Add one below/);
    await groups.getByTestId("group-name").locator("input").fill("targets");
    await groups.getByTestId("group-instance").click();
    await page.locator(".n-base-select-option").filter({ hasText: "local" }).first().click();
    await groups.getByTestId("group-pattern").locator("input").fill(`${TARGET_DB}*`);
    await groups.getByTestId("group-add").click();
    await expect(groups.locator("tbody")).toContainText("targets");
    const { groups: saved } = await env.admin.call<{ groups: { name: string; instanceId: string; pattern: string }[] }>(
      "GET",
      `/projects/${project}/database-groups`,
    );
    expect(saved.map((g) => ({ name: g.name, instanceId: g.instanceId, pattern: g.pattern }))).toEqual([
      { name: "targets", instanceId: "local", pattern: `${TARGET_DB}*` },
    ]);
    // The instance was listed when it was added (a second or so), so the group names its databases now, not at
    // the listing loop's next round, a minute later.
    await expect
      .poll(
        async () =>
          (await env.admin.call<{ groups: { resolved: number }[] }>("GET", `/projects/${project}/database-groups`)).groups[0]!.resolved,
        {
          timeout: 10_000,
        },
      )
      .toBeGreaterThanOrEqual(1);
  });
});

test.describe("rollouts list", () => {
  test("shows progress and status per rollout, pages through them, and opens one", async ({ page, signIn, env }) => {
    const project = uid("list");
    await env.admin.createProject(project, 0);
    const task = { type: "DATABASE_DATA_UPDATE" as const, instanceId: "local", database: TARGET_DB, statement: "SELECT 1" };
    const ids: string[] = [];
    for (let i = 1; i <= 21; i++)
      ids.push(await env.admin.createRollout(project, `Release ${i}`, [{ environment: "prod", tasks: [task, task] }]));
    const newest = ids[ids.length - 1]!;
    const [first] = await env.admin.tasks(newest);
    await env.admin.skip(newest, [first!.id], "not needed");

    await signIn("vera");
    await page.goto(`/projects/${project}/rollouts`);
    const rows = page.locator("tr[data-rollout-id]");
    await expect(rows).toHaveCount(20);
    const top = page.locator(`tr[data-rollout-id="${newest}"]`);
    await expect(top).toContainText("Release 21");
    await expect(top).toContainText("admin");
    await expect(top.locator(".n-progress")).toHaveAttribute("aria-valuenow", "50");
    await expect(top.locator('[data-status="SKIPPED"]')).toContainText("1");
    await expect(top.locator('[data-status="NOT_STARTED"]')).toContainText("1");

    await page.getByTestId("page-next").click();
    await expect(rows).toHaveCount(1);
    await expect(rows.first()).toContainText("Release 1");
    await page.getByTestId("page-previous").click();
    await expect(rows).toHaveCount(20);

    await top.getByTestId("rollout-link").click();
    await expect(page).toHaveURL(new RegExp(`/rollouts/${newest}$`));
    await expect(page.getByTestId("rollout-title")).toHaveText("Release 21");
  });
});

test.describe("live connection", () => {
  test("shows when the live connection is lost, and catches up when it is back", async ({ page, signIn, env }) => {
    const project = uid("live");
    await env.admin.createProject(project, 0);
    const task = { type: "DATABASE_DATA_UPDATE" as const, instanceId: "local", database: TARGET_DB, statement: "SELECT 1" };
    const rolloutId = await env.admin.createRollout(project, "Live", [{ environment: "prod", tasks: [task, task] }]);
    const [a] = await env.admin.tasks(rolloutId);

    // The page talks to the server through a proxy we can cut (cookies do not depend on the port).
    const proxy = await startTcpProxy(Number(new URL(env.server.url).port));
    await signIn("vera");
    await page.goto(`${proxy.url}/rollouts/${rolloutId}`);
    const indicator = page.getByTestId("live-indicator");
    await expect(indicator).toHaveAttribute("data-state", "live");
    await expect(indicator).toContainText("Live");

    await proxy.cut();
    await expect(indicator).toHaveAttribute("data-state", "reconnecting");
    await expect(indicator).toContainText("Reconnecting…");
    await env.admin.skip(rolloutId, [a!.id], "changed while the page was offline");
    await proxy.restore();
    await expect(indicator).toHaveAttribute("data-state", "live");
    await expect(page.locator(`tr[data-task-id="${a!.id}"]`)).toHaveAttribute("data-status", "SKIPPED");
    await proxy.close();
  });
});
