import { confirmAction } from "../common/dialog.js";
import { expect, PASSWORD, test, uid } from "../common/fixtures.js";
import type { NewTask } from "../common/api.js";
import { startTcpProxy } from "../common/tcp-proxy.js";
import { TARGET_DB } from "../common/target.js";

/**
 * Issue 14, point 5: the dashboard while the server is gone and after it comes back; pages for ids that
 * name nothing; the role reloaded after a 403. The page talks to the server through a proxy the test
 * cuts (open streams severed, new connections refused), as "the live connection" spec does.
 */
const task = (statement: string): NewTask => ({ type: "DATABASE_DATA_UPDATE", instanceId: "local", database: TARGET_DB, statement });

/** "05:52" as the page shows it (Playwright's time zone, en-US). */
const hhmm = (at: Date) => new Intl.DateTimeFormat("en-US", { hour: "2-digit", minute: "2-digit", timeZone: "Europe/Madrid" }).format(at);

test.describe("server stopped mid-session", () => {
  test("a banner names the time of the last good data, actions fail in a sentence, and it all comes back", async ({
    page,
    signIn,
    env,
  }) => {
    const project = uid("stopped");
    await env.admin.createProject(project, 0);
    const rolloutId = await env.admin.createRollout(project, "Stopped", [
      { environment: "prod", tasks: [task("SELECT 1/0"), task("SELECT 1"), task("SELECT 2")] },
    ]);
    const [failing, idle, other] = (await env.admin.tasks(rolloutId)).map((t) => t.id) as [string, string, string];
    await env.admin.run(rolloutId, [failing]);
    await expect
      .poll(async () => (await env.admin.tasks(rolloutId)).find((t) => t.id === failing)?.status, { timeout: 60_000 })
      .toBe("FAILED");

    const proxy = await startTcpProxy(Number(new URL(env.server.url).port));
    try {
      await signIn("rick");
      const before = new Date();
      await page.goto(`${proxy.url}/rollouts/${rolloutId}`);
      const indicator = page.getByTestId("live-indicator");
      await expect(indicator).toHaveAttribute("data-state", "live");
      const failedRow = page.locator(`tr[data-task-id="${failing}"]`);
      await expect(failedRow).toHaveAttribute("data-status", "FAILED");
      await expect(page.getByTestId("stale-banner")).toHaveCount(0);
      await expect(page.locator(".rollout-view")).toHaveAttribute("data-stale", "false");

      // The server goes away.
      const cutAt = new Date();
      await proxy.cut();
      await expect(indicator).toHaveAttribute("data-state", "reconnecting");
      const banner = page.getByRole("status").filter({ has: page.getByTestId("stale-banner") });
      await expect(banner).toBeVisible();
      await expect(banner).toContainText("reconnecting");
      const text = (await banner.textContent()) ?? "";
      expect(
        [hhmm(before), hhmm(cutAt)].some((t) => text.includes(`Data as of ${t}`)),
        text,
      ).toBe(true);
      // The rows stay as they were, marked stale.
      await expect(page.locator(".rollout-view")).toHaveAttribute("data-stale", "true");
      await expect(failedRow).toHaveAttribute("data-status", "FAILED");

      // The drawer of the FAILED task cannot load its runs, and says so (never "No runs yet").
      await failedRow.locator('td[data-col-key="id"]').click();
      const drawer = page.getByTestId("task-drawer");
      await expect(drawer.getByTestId("runs-load-error")).toContainText("The runs of this task could not be loaded.");
      await expect(drawer.getByTestId("runs-load-error")).toContainText("The server cannot be reached.");
      await expect(drawer).not.toContainText("No runs yet");
      await page.keyboard.press("Escape");
      await expect(drawer).toHaveCount(0);

      // An action fails with a translated sentence, not the browser's "Failed to fetch".
      await failedRow.getByTestId("row-action-retry").click();
      const toast = page.locator(".n-message").filter({ hasText: "The server cannot be reached" });
      await expect(toast).toBeVisible();
      await expect(page.getByText("Failed to fetch")).toHaveCount(0);

      // Meanwhile the world moves on; then the server is back.
      await env.admin.skip(rolloutId, [idle], "changed while the page was offline");
      await proxy.restore();
      await expect(indicator).toHaveAttribute("data-state", "live");
      await expect(page.getByTestId("stale-banner")).toHaveCount(0);
      await expect(page.locator(".rollout-view")).toHaveAttribute("data-stale", "false");
      await expect(page.locator(`tr[data-task-id="${idle}"]`)).toHaveAttribute("data-status", "SKIPPED");
      await expect(page.locator(`tr[data-task-id="${other}"]`)).toHaveAttribute("data-status", "NOT_STARTED");

      // And the drawer shows the failed attempt again.
      await failedRow.locator('td[data-col-key="id"]').click();
      await expect(drawer.getByTestId("run-error")).toContainText("division by zero");
      await expect(drawer.getByTestId("runs-load-error")).toHaveCount(0);
    } finally {
      await proxy.close();
    }
  });

  test("Chinese: the banner and the failed action are in Chinese", async ({ page, signIn, env }) => {
    const project = uid("stopped-zh");
    await env.admin.createProject(project, 0);
    const rolloutId = await env.admin.createRollout(project, "停止", [{ environment: "prod", tasks: [task("SELECT 1")] }]);
    const [t] = await env.admin.tasks(rolloutId);
    const proxy = await startTcpProxy(Number(new URL(env.server.url).port));
    try {
      await page.addInitScript(() => localStorage.setItem("runway.locale", "zh"));
      await signIn("rick");
      await page.goto(`${proxy.url}/rollouts/${rolloutId}`);
      await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-state", "live");
      // After the data arrived (the stream can be live first): only data shown can be stale.
      await expect(page.locator(".rollout-view")).toHaveAttribute("data-complete", "true");
      await proxy.cut();
      await expect(page.getByTestId("stale-banner")).toContainText("数据截至");
      await expect(page.getByTestId("stale-banner")).toContainText("正在重新连接");
      await page.locator(`tr[data-task-id="${t!.id}"]`).getByTestId("row-action-skip").click();
      await page.getByTestId("skip-reason").locator("input").fill("不再需要");
      await confirmAction(page);
      await expect(page.locator(".n-message").filter({ hasText: "无法连接服务器" })).toBeVisible();
      await expect(page.getByText("Failed to fetch")).toHaveCount(0);
      await proxy.restore();
      await expect(page.getByTestId("stale-banner")).toHaveCount(0);
    } finally {
      await proxy.close();
    }
  });

  test("a wrong password reads fully in Chinese", async ({ page }) => {
    await page.addInitScript(() => localStorage.setItem("runway.locale", "zh"));
    await page.goto("/login");
    await page.getByTestId("username").locator("input").fill("rick");
    await page.getByTestId("password").locator("input").fill("not-the-password");
    await page.getByTestId("sign-in").click();
    await expect(page.getByTestId("login-error")).toHaveText("用户名或密码错误，或该用户已被停用。");
  });
});

test.describe("not-found pages", () => {
  test("an unknown project, rollout, task, instance or page says so, with a way back", async ({ page, signIn, env }) => {
    const project = uid("nf");
    await env.admin.createProject(project, 0);
    const rolloutId = await env.admin.createRollout(project, "Known", [{ environment: "prod", tasks: [task("SELECT 1")] }]);
    await signIn("vera");

    await page.goto("/projects/no-such-project/rollouts");
    const notFound = page.getByTestId("not-found");
    await expect(notFound).toHaveAttribute("data-what", "project");
    await expect(notFound).toContainText("Project “no-such-project” does not exist.");
    await expect(page.getByTestId("rollout-list")).toHaveCount(0);
    await page.getByTestId("not-found-back").click();
    await expect(page).toHaveURL(/\/projects$/);

    await page.goto("/rollouts/987654321987");
    await expect(notFound).toHaveAttribute("data-what", "rollout");
    await expect(notFound).toContainText("Rollout 987654321987 does not exist.");

    await page.goto(`/rollouts/${rolloutId}?task=987654321987`);
    await expect(page.getByTestId("task-drawer").getByTestId("not-found")).toHaveAttribute("data-what", "task");

    await page.goto("/instances/no-such-instance");
    await expect(notFound).toHaveAttribute("data-what", "instance");

    await page.goto("/no/such/page");
    await expect(notFound).toHaveAttribute("data-what", "page");
    await expect(page.getByTestId("not-found-back")).toBeVisible();
  });
});

test.describe("role reloaded after a 403", () => {
  test("a releaser lowered to viewer while the page is open loses the buttons at the next action", async ({ page, signIn, env }) => {
    const user = uid("demoted");
    await env.admin.createUser(user, PASSWORD, "releaser");
    const project = uid("demote");
    await env.admin.createProject(project, 0);
    const rolloutId = await env.admin.createRollout(project, "Demote", [{ environment: "prod", tasks: [task("SELECT 1/0")] }]);
    const [t] = await env.admin.tasks(rolloutId);
    await env.admin.run(rolloutId, [t!.id]);
    await expect.poll(async () => (await env.admin.tasks(rolloutId))[0]?.status, { timeout: 60_000 }).toBe("FAILED");

    await signIn(user);
    await page.goto(`/rollouts/${rolloutId}`);
    const row = page.locator(`tr[data-task-id="${t!.id}"]`);
    await expect(row).toHaveAttribute("data-status", "FAILED");
    await expect(row.getByTestId("row-action-retry")).toBeVisible();

    // An admin lowers the role while the page is open; the next action gets a 403.
    await env.admin.call("PATCH", `/users/${user}`, { role: "viewer" });
    await row.getByTestId("row-action-retry").click();
    await expect(page.locator(".n-message").filter({ hasText: "You are not allowed to do this." })).toBeVisible();
    await expect(page.locator(".n-message").filter({ hasText: "/api/" })).toHaveCount(0);
    // No page reload: the role was asked again and the buttons follow it.
    await expect(row.getByTestId("row-action-retry")).toHaveCount(0);
    await expect(page.getByTestId("signed-in-as")).toContainText("Viewer");
  });
});
