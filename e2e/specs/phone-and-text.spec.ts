import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Page } from "@playwright/test";
import { createMixedRollout, expectAccessible, LANGS, usePreferences } from "../common/a11y.js";
import { expect, test, uid } from "../common/fixtures.js";
import { createGatesRollout, type GatesRollout } from "../common/rollouts.js";
import { REPO_ROOT } from "../common/server.js";

const ARTIFACTS = path.join(REPO_ROOT, "e2e/artifacts");

/** Elements among `selector` whose text is cut off (ellipsis or overflow), with their text. */
async function clipped(page: Page, selector: string): Promise<string[]> {
  return page.locator(selector).evaluateAll((els) =>
    els
      .filter((el) => {
        const e = el as HTMLElement;
        if (!e.offsetParent) return false;
        return e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1;
      })
      .map((el) => `${el.tagName.toLowerCase()}.${(el as HTMLElement).className}: ${(el.textContent ?? "").trim().slice(0, 80)}`),
  );
}

test.describe.serial("phone layout and text that fits", () => {
  let gates: GatesRollout;
  let mixed: { rolloutId: string; notStarted: string };
  let mixedProject: string;

  test.beforeAll(async ({ env }) => {
    mixedProject = uid("fit");
    mixed = await createMixedRollout(env.admin, mixedProject);
    gates = await createGatesRollout(env.admin, uid("fit-gates"));
  });
  test.afterAll(async ({ env }) => {
    if (gates) await env.admin.cancelAll(gates.rolloutId);
    if (mixed) await env.admin.cancelAll(mixed.rolloutId);
  });

  for (const lang of LANGS) {
    test(`${lang}: nothing is cut off (type column, waiting badges, buttons, date picker)`, async ({ page, signIn }) => {
      await usePreferences(page, lang, "light");
      await signIn("admin");
      await page.goto(`/rollouts/${gates.rolloutId}`);
      await expect(page.locator('[data-testid="waiting-cause"]').first()).toBeVisible();
      const cells =
        '[data-testid="task-table"] td[data-col-key="type"], [data-testid="waiting-cause"], button, .n-button__content, .status-tag';
      expect(await clipped(page, cells), "rollout page").toEqual([]);
      await page.goto(`/rollouts/${mixed.rolloutId}`);
      await page.locator(`tr[data-task-id="${mixed.notStarted}"] [data-testid="row-action-run"]`).click();
      await page.getByTestId("run-mode-schedule").click();
      await expect(page.getByTestId("run-at")).toBeVisible();
      expect(
        await clipped(page, '[data-testid="action-dialog"] button, [data-testid="action-dialog"] .n-button__content'),
        "run dialog",
      ).toEqual([]);
      // The date picker: its input shows the whole date and time.
      const input = page.getByTestId("run-at").locator("input");
      const fits = await input.evaluate((el) => (el as HTMLInputElement).scrollWidth <= (el as HTMLInputElement).clientWidth + 1);
      expect(fits, "date picker input").toBe(true);
    });
  }

  test("a phone (390 px): tasks as cards, a full-width drawer, titles that read across; screenshots", async ({ page, signIn }) => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await signIn("admin");
    await page.goto(`/rollouts/${gates.rolloutId}`);
    const row = page.locator("tr[data-task-id]").first();
    await expect(row).toBeVisible();
    expect(await row.evaluate((el) => getComputedStyle(el).display)).toBe("grid");
    // Nothing wider than the screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    // A title wraps by words, not one letter per line.
    const title = await page.getByTestId("rollout-title").boundingBox();
    expect(title!.width).toBeGreaterThan(100);
    for (const s of await page.getByTestId("stage").all()) expect((await s.boundingBox())!.width).toBeGreaterThan(150);
    await page.screenshot({ path: path.join(ARTIFACTS, "phone-rollout.png"), fullPage: true });
    await page.goto(`/rollouts/${gates.rolloutId}?task=${gates.ids.v2}`);
    await expect(page.getByTestId("task-statement")).toBeVisible();
    const drawer = await page.locator(".n-drawer").boundingBox();
    expect(Math.round(drawer!.width)).toBe(390);
    await page.screenshot({ path: path.join(ARTIFACTS, "phone-drawer.png") });
    await page.goto(`/projects`);
    await expect(page.getByTestId("project-card").first()).toBeVisible();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: path.join(ARTIFACTS, "phone-projects.png"), fullPage: true });
  });

  test("the header on a phone (390 px, Chinese, dark): settings and account fold behind the user's name", async ({ page, signIn }) => {
    await usePreferences(page, "zh", "dark");
    await page.setViewportSize({ width: 390, height: 844 });
    await signIn("admin");
    await page.goto(`/projects/${mixedProject}/rollouts`);
    const toggle = page.getByTestId("header-menu");
    await expect(toggle).toHaveAttribute("aria-expanded", "false");
    await expect(page.getByTestId("sign-out")).toBeHidden();
    // One row: the brand, the links and the button (five rows unfolded, a quarter of the screen).
    expect((await page.locator(".app-header").boundingBox())!.height).toBeLessThan(60);
    await expectAccessible(page, "folded header");
    await toggle.click();
    await expect(toggle).toHaveAttribute("aria-expanded", "true");
    await expect(page.getByTestId("signed-in-as")).toContainText("admin");
    await expect(page.getByTestId("theme-switcher")).toBeVisible();
    await expect(page.getByTestId("sign-out")).toBeVisible();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await expectAccessible(page, "unfolded header");
    // The keyboard: Tab reaches the unfolded controls, Escape folds them and returns to the button.
    await page.getByTestId("open-tokens").focus();
    await page.keyboard.press("Escape");
    await expect(toggle).toHaveAttribute("aria-expanded", "false");
    await expect(toggle).toBeFocused();
    // A page change folds it.
    await toggle.click();
    await page.getByTestId("open-tokens").click();
    await expect(page).toHaveURL(/\/account\/tokens$/);
    await expect(toggle).toHaveAttribute("aria-expanded", "false");
    // The project's settings, reached from its page, on the phone too.
    await page.goto(`/projects/${mixedProject}/rollouts`);
    await page.getByTestId("open-project-settings").click();
    await expect(page.getByTestId("parallel-limit")).toBeVisible();
    await expect(page.getByTestId("webhook-list")).toBeVisible();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await expectAccessible(page, "project settings on a phone");
  });

  test("My API tokens on a phone (390 px, Spanish, dark): tokens as cards, nothing cut off or wider than the screen", async ({
    page,
    signIn,
  }) => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await usePreferences(page, "es", "dark");
    await page.setViewportSize({ width: 390, height: 844 });
    await signIn("admin");
    await page.goto("/account/tokens");
    await page.getByTestId("token-name").locator("input").fill(uid("pipeline de despliegue"));
    await page.getByTestId("token-create").click();
    await expect(page.getByTestId("token-secret")).toBeVisible();
    const row = page.getByTestId("token-row").first();
    await expect(row).toBeVisible();
    expect(await row.evaluate((el) => getComputedStyle(el).display)).toBe("block");
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(
      await clipped(page, '[data-testid="tokens-page"] button, [data-testid="tokens-page"] .n-button__content'),
      "tokens page",
    ).toEqual([]);
    await page.screenshot({ path: path.join(ARTIFACTS, "phone-tokens.png"), fullPage: true });
  });

  test("the rollouts list on a phone (390 px): a title reads across, the table scrolls sideways", async ({ page, signIn }) => {
    await page.setViewportSize({ width: 390, height: 844 });
    await signIn("admin");
    await page.goto(`/projects/${mixedProject}/rollouts`);
    const link = page.getByTestId("rollout-link").first();
    await expect(link).toHaveText("Mixed");
    // Squeezed by the fixed-width columns beside it, the title column once read a letter a line.
    const box = (await link.boundingBox())!;
    expect(box.height, "the title on one line").toBeLessThan(30);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const groups = page.getByTestId("database-groups").locator("th").first();
    expect((await groups.boundingBox())!.width, "a database group column's width").toBeGreaterThanOrEqual(100);
  });

  test("the admin pages on a phone (390 px, Japanese, dark): forms wrap, wide tables scroll in their own box", async ({ page, signIn }) => {
    await usePreferences(page, "ja", "dark");
    await page.setViewportSize({ width: 390, height: 844 });
    await signIn("admin");
    for (const [path, table] of [
      ["/admin/users", "users-table"],
      ["/admin/instances", "instances-table"],
      ["/admin/audit", "audit-table"],
    ] as const) {
      await page.goto(path);
      await expect(page.getByTestId(table).locator("tbody tr").first()).toBeVisible();
      // Nothing reaches past the screen's edge unless a box that scrolls sideways holds it: a button there could
      // not be reached (the page itself does not scroll sideways).
      const past = await page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>(".app-content *")]
          .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest("[data-testid=table-scroll]"))
          .map((e) => `${e.tagName.toLowerCase()}.${e.className}`.slice(0, 80)),
      );
      expect(past, path).toEqual([]);
      // The table scrolls in its box, which a keyboard reaches and a screen reader names.
      const box = page.getByTestId("table-scroll");
      expect(await box.evaluate((e) => e.scrollWidth > e.clientWidth), path).toBe(true);
      await expect(box, path).toHaveAttribute("tabindex", "0");
      await expect(box, path).toHaveAttribute("role", "region");
      await box.focus();
      await page.keyboard.press("ArrowRight");
      await expect.poll(() => box.evaluate((e) => e.scrollLeft), { message: path }).toBeGreaterThan(0);
      await expectAccessible(page, `${path} on a phone`);
    }
  });
});
