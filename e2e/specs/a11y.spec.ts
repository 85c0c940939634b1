import { expect, test, uid } from "../common/fixtures.js";
import { createMixedRollout, expectAccessible, LANGS, usePreferences, type Theme } from "../common/a11y.js";
import { createGatesRollout, type GatesRollout } from "../common/rollouts.js";
import { startTcpProxy } from "../common/tcp-proxy.js";

/**
 * axe-core on every page and dialog, in every language, light and dark: no critical or serious violation.
 * The rollouts show every status, waiting causes, a failure and a scheduled run.
 */
test.describe.serial("accessibility (axe-core)", () => {
  let gates: GatesRollout;
  let mixed: { rolloutId: string; notStarted: string; failed: string };
  let projectId: string;

  test.beforeAll(async ({ env }) => {
    // Mixed first: its quick tasks must finish before the gates' long task holds the only worker.
    projectId = uid("a11y");
    mixed = await createMixedRollout(env.admin, projectId);
    gates = await createGatesRollout(env.admin, uid("a11y-gates"));
  });
  test.afterAll(async ({ env }) => {
    if (gates) await env.admin.cancelAll(gates.rolloutId);
    if (mixed) await env.admin.cancelAll(mixed.rolloutId);
  });

  for (const lang of LANGS) {
    for (const theme of ["light", "dark"] as Theme[]) {
      test(`${lang}, ${theme}: every page and dialog`, async ({ page, signIn, env }) => {
        test.setTimeout(900_000); // ~15 axe runs; each takes seconds to tens of seconds on a loaded machine
        await usePreferences(page, lang, theme);
        await page.goto("/login");
        await expect(page.getByTestId("login-card")).toBeVisible();
        await expect(page.locator("html")).toHaveAttribute("data-theme", theme);
        await expectAccessible(page, "sign-in");

        await signIn("admin");
        await page.goto("/projects");
        await expect(page.getByTestId("project-card").first()).toBeVisible();
        await expectAccessible(page, "projects");

        await page.goto(`/projects/${projectId}/rollouts`);
        await expect(page.getByTestId("rollout-link").first()).toBeVisible();
        await expectAccessible(page, "rollouts");

        await page.getByTestId("new-rollout-from-sql").click();
        await expect(page.getByTestId("new-rollout-sql")).toBeVisible();
        await expectAccessible(page, "create-rollout dialog");
        await page.keyboard.press("Escape");
        await expect(page.getByTestId("create-rollout-dialog")).toHaveCount(0);

        await page.goto(`/projects/${projectId}/settings`);
        await expect(page.getByTestId("save-settings")).toBeVisible();
        await expectAccessible(page, "project settings");

        // An id that names nothing: a not-found page with a way back.
        await page.goto("/projects/no-such-project/rollouts");
        await expect(page.getByTestId("not-found-back")).toBeVisible({ timeout: 60_000 }); // a fresh page load: slow on a loaded machine
        await expectAccessible(page, "not-found page");

        for (const r of [mixed.rolloutId, gates.rolloutId]) {
          await page.goto(`/rollouts/${r}`);
          await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-state", "live");
          await expect(page.locator("tr[data-task-id]").first()).toBeVisible();
          await expectAccessible(page, `rollout ${r}`);
        }

        await page.goto(`/rollouts/${gates.rolloutId}?view=timeline`);
        await expect(page.getByTestId("timeline-bar").first()).toBeVisible();
        await expectAccessible(page, "timeline");

        // The keyboard shortcuts ("?").
        await page.locator("body").press("?");
        await expect(page.getByTestId("shortcuts-dialog")).toBeVisible();
        await expectAccessible(page, "shortcuts dialog");
        await page.keyboard.press("Escape");
        await expect(page.getByTestId("shortcuts-dialog")).toHaveCount(0);

        // The drawer.
        await page.goto(`/rollouts/${gates.rolloutId}?task=${gates.ids.v2}`);
        await expect(page.getByTestId("task-statement")).toBeVisible();
        await expectAccessible(page, "task drawer");
        await page.keyboard.press("Escape");
        await expect(page.getByTestId("task-drawer")).toHaveCount(0);

        // The confirmation of a cancel.
        await page.locator(`tr[data-task-id="${gates.ids.v2}"] [data-testid="row-action-cancel"]`).click();
        await expect(page.getByTestId("confirm-dialog")).toBeVisible();
        await expectAccessible(page, "confirm dialog");
        await page.keyboard.press("Escape");
        await expect(page.getByTestId("confirm-dialog")).toHaveCount(0);

        // Run (with its schedule).
        await page.goto(`/rollouts/${mixed.rolloutId}`);
        await page.locator(`tr[data-task-id="${mixed.notStarted}"] [data-testid="row-action-run"]`).click();
        await expect(page.getByTestId("action-dialog")).toBeVisible();
        await expectAccessible(page, "run dialog");
        await page.keyboard.press("Escape");
        await expect(page.getByTestId("action-dialog")).toHaveCount(0);

        // My API tokens, with a new token's secret shown and one token listed.
        await page.getByTestId("open-tokens").click();
        await expect(page.getByTestId("token-list")).toBeVisible();
        await page.getByTestId("token-name").locator("input").fill(`a11y ${lang} ${theme}`);
        await page.getByTestId("token-create").click();
        await expect(page.getByTestId("token-secret")).toBeVisible();
        await expectAccessible(page, "my tokens");

        // The stale-data banner: the connection to the server cut mid-session (rows marked stale).
        const proxy = await startTcpProxy(Number(new URL(env.server.url).port));
        try {
          await page.goto(`${proxy.url}/rollouts/${mixed.rolloutId}`);
          await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-state", "live", { timeout: 60_000 });
          // Mid-session means after the data arrived: the stream can be live before the task list has loaded,
          // and a page that never showed data has nothing to call stale (it says the load failed instead).
          await expect(page.locator(".rollout-view")).toHaveAttribute("data-complete", "true", { timeout: 60_000 });
          await proxy.cut();
          await expect(page.getByTestId("stale-banner")).toBeVisible();
          await expectAccessible(page, "stale banner");
        } finally {
          await proxy.close();
        }
      });

      // Its own test, so the main one keeps its time budget: the drawer's header actions, the translated log
      // with its failure in red, and the header's executor indicator.
      test(`${lang}, ${theme}: a failed task's drawer`, async ({ page, signIn }) => {
        test.setTimeout(300_000);
        await usePreferences(page, lang, theme);
        await signIn("admin");
        await page.goto(`/rollouts/${mixed.rolloutId}?task=${mixed.failed}`);
        // A loaded machine may take long to open a rollout page.
        await expect(page.getByTestId("task-statement")).toBeVisible({ timeout: 60_000 });
        await expect(page.getByTestId("drawer-action-retry")).toBeVisible();
        await expect(page.getByTestId("log-event").filter({ hasText: "22012" })).toBeVisible({ timeout: 60_000 });
        await expect(page.getByTestId("executor-capacity")).toBeVisible();
        await expectAccessible(page, "failed task drawer");
      });
    }
  }
});
