import { closeOutcome, confirmAction } from "../common/dialog.js";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { expect, test, uid } from "../common/fixtures.js";
import { createGatesRollout, type GatesRollout } from "../common/rollouts.js";
import { REPO_ROOT } from "../common/server.js";

const ARTIFACTS = path.join(REPO_ROOT, "e2e/artifacts");

test.describe.serial("rollout page held by its gates", () => {
  let gates: GatesRollout;

  test.beforeAll(async ({ env }) => {
    gates = await createGatesRollout(env.admin, uid("gates"));
  });
  test.afterAll(async ({ env }) => {
    if (gates) await env.admin.cancelAll(gates.rolloutId);
  });

  test("the AVAILABLE chip shows exactly the AVAILABLE tasks, and the filter lives in the URL", async ({ page, signIn, env }) => {
    await signIn("admin");
    await page.goto(`/rollouts/${gates.rolloutId}`);
    await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-state", "live");
    const available = (await env.admin.tasks(gates.rolloutId))
      .filter((t) => t.status === "AVAILABLE")
      .map((t) => t.id)
      .sort();
    expect(available).toHaveLength(2);
    const chip = page.getByTestId("chip-AVAILABLE");
    await expect(chip).toHaveAttribute("data-count", "2");
    await expect(page.getByTestId("chip-PENDING")).toHaveAttribute("data-count", "4");
    await expect(page.getByTestId("chip-RUNNING")).toHaveAttribute("data-count", "1");
    await chip.click();
    await expect(page).toHaveURL(/[?&]status=AVAILABLE/);
    const rows = page.locator("tr[data-task-id]");
    await expect(rows).toHaveCount(2);
    expect((await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-task-id")))).sort()).toEqual(available);
    await expect(page.locator('tr[data-task-id][data-status="AVAILABLE"]')).toHaveCount(2);
    // A shared or reloaded link keeps the filter.
    await page.reload();
    await expect(page.getByTestId("chip-AVAILABLE")).toHaveAttribute("aria-pressed", "true");
    await expect(rows).toHaveCount(2);
    // Several statuses at once.
    await page.getByTestId("chip-RUNNING").click();
    await expect(rows).toHaveCount(3);
    await page.getByTestId("chip-ALL").click();
    await expect(rows).toHaveCount(7);
  });

  test("waiting-cause badges explain PARALLEL_LIMIT and VERSION_ORDER, and link to the blocking task", async ({ page, signIn }) => {
    await signIn("admin");
    await page.goto(`/rollouts/${gates.rolloutId}`);
    const badge = (id: string) => page.locator(`tr[data-task-id="${id}"] [data-testid="waiting-cause"]`);
    await expect(badge(gates.ids.limited[0]!)).toHaveText("Parallel limit reached (3/3)");
    await expect(badge(gates.ids.v2)).toHaveText(`Waiting for task #${gates.ids.v1} (version 0001)`);
    await badge(gates.ids.v2).hover();
    await expect(page.getByText("A task with a lower schema version on the same database must finish first.")).toBeVisible();
    await badge(gates.ids.v2).click();
    await expect(page).toHaveURL(new RegExp(`[?&]task=${gates.ids.v1}`));
    const drawer = page.getByTestId("task-drawer");
    await expect(drawer).toContainText(`Task #${gates.ids.v1}`);
    await expect(drawer.getByTestId("task-statement")).toContainText("pg_sleep(600)");
  });

  test("screenshots of the rollout page in each language; 中文 reads 就绪 on the AVAILABLE chip", async ({ page, signIn }) => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await signIn("admin");
    await page.goto(`/rollouts/${gates.rolloutId}`);
    const words = { en: "Available", zh: "就绪", ja: "実行可能", es: "Disponible" } as const;
    const names = { en: "English", zh: "中文", ja: "日本語", es: "Español" } as const;
    for (const lang of ["en", "zh", "ja", "es"] as const) {
      await page.getByTestId("language-switcher").click();
      await page.locator(".n-base-select-option", { hasText: names[lang] }).click();
      await expect(page.getByTestId("chip-AVAILABLE")).toContainText(words[lang]);
      await expect(page.locator("html")).toHaveAttribute("lang", lang);
      await expect(page.getByTestId("chip-AVAILABLE")).toHaveAttribute("data-count", "2");
      await expect(page.locator(".n-base-select-menu:visible")).toHaveCount(0);
      await page.screenshot({ path: path.join(ARTIFACTS, `rollout-${lang}.png`), fullPage: true });
    }
    // The choice persists across reloads.
    await page.getByTestId("language-switcher").click();
    await page.locator(".n-base-select-option", { hasText: "中文" }).click();
    await page.reload();
    await expect(page.getByTestId("chip-AVAILABLE")).toContainText("就绪");
    await expect(page.locator(`tr[data-task-id="${gates.ids.limited[0]}"] [data-testid="waiting-cause"]`)).toHaveText(
      "已达并行上限（3/3）",
    );
  });

  test("the timeline draws the runs", async ({ page, signIn }) => {
    await signIn("admin");
    await page.goto(`/rollouts/${gates.rolloutId}?view=timeline`);
    // The timeline is drawn in the page (one row per task, a bar per run): find.spec.ts covers its controls.
    await expect(page.getByTestId("timeline-bar").first()).toBeVisible();
    expect((await page.getByTestId("timeline").boundingBox())?.height).toBeGreaterThan(100);
    await page.screenshot({ path: path.join(ARTIFACTS, "timeline-en.png"), fullPage: true });
  });

  test("cancelling a RUNNING task aborts it and the page shows CANCELED live", async ({ page, signIn }) => {
    await signIn("rick");
    await page.goto(`/rollouts/${gates.rolloutId}`);
    await expect(page.getByTestId("live-indicator")).toHaveAttribute("data-state", "live");
    const running = page.locator('tr[data-task-id][data-status="RUNNING"]');
    await expect(running).toHaveCount(1);
    const id = await running.getAttribute("data-task-id");
    await running.getByTestId("row-action-cancel").click();
    const dialog = page.getByTestId("confirm-dialog");
    await expect(dialog).toContainText("1 running statement will be aborted and its transaction rolled back.");
    await confirmAction(page);
    const report = page.getByTestId("outcome-report");
    await expect(report.locator(`[data-testid="outcome-row"][data-task-id="${id}"]`)).toContainText("Cancel requested");
    await closeOutcome(page);
    // No reload: the change arrives through the event stream.
    await expect(page.locator(`tr[data-task-id="${id}"]`)).toHaveAttribute("data-status", "CANCELED");
    // The freed worker picks up an AVAILABLE task, and a task held by the limit moves up.
    await expect(page.getByTestId("chip-RUNNING")).toHaveAttribute("data-count", "1");
    await expect(page.getByTestId("chip-CANCELED")).toHaveAttribute("data-count", "1");
  });
});
