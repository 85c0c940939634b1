import AxeBuilder from "@axe-core/playwright";
import { expect, type Page } from "@playwright/test";
import { TARGET_DB } from "./target.js";
import type { Api, NewTask } from "./api.js";

export const LANGS = ["en", "zh", "ja", "es"] as const;
export type Lang = (typeof LANGS)[number];
export type Theme = "light" | "dark";

/** Opens every later page in `lang` and `theme` (saved preferences, as a returning user has them). */
export async function usePreferences(page: Page, lang: Lang, theme: Theme): Promise<void> {
  await page.addInitScript(
    ([l, t]) => {
      localStorage.setItem("runway.locale", l);
      localStorage.setItem("runway.theme", t);
    },
    [lang, theme] as const,
  );
  await page.emulateMedia({ colorScheme: theme });
}

/**
 * axe-core (WCAG 2.x A/AA and best practices) on what the page shows now; fails on any violation, whatever
 * its impact (a page without its h1, headings out of order, a column without a name are moderate or minor to
 * axe, and a screen reader's user meets them on every page), and names each offending element.
 */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  // Wait for transitions (dialogs fade in) so colors are measured at rest.
  await page.waitForFunction(
    () => document.getAnimations().every((a) => a.playState !== "running" || a.effect?.getTiming().iterations === Infinity),
    undefined,
    {
      timeout: 10_000,
    },
  );
  const result = await new AxeBuilder({ page })
    .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"])
    // Only violations are collected: passes and "incomplete" cost most of a run and are not read.
    .options({ resultTypes: ["violations"] })
    .analyze();
  const bad = result.violations;
  const report = bad.map(
    (v) =>
      `${v.impact} ${v.id}: ${v.help}\n${v.nodes.map((n) => `   ${n.target.join(" ")} — ${n.failureSummary?.split("\n").slice(1, 2).join("")}`).join("\n")}`,
  );
  // Soft: one run reports every page and dialog that fails, not only the first.
  expect.soft(report, `axe on ${what}`).toEqual([]);
}

const task = (statement: string, extra: Partial<NewTask> = {}): NewTask => ({
  type: "DATABASE_DATA_UPDATE",
  instanceId: "local",
  database: TARGET_DB,
  statement,
  ...extra,
});

/** A finished, a failed, a scheduled and a not-started task over two stages, every status on screen. */
export async function createMixedRollout(api: Api, projectId: string): Promise<{ rolloutId: string; notStarted: string; failed: string }> {
  await api.createProject(projectId, 3);
  const rolloutId = await api.createRollout(projectId, "Mixed", [
    { environment: "staging", tasks: [task("SELECT 1"), task("SELECT 1/0"), task("SELECT 2")] },
    { environment: "production", tasks: [task("SELECT 3"), task("SELECT 4")] },
  ]);
  const [done, failed, later, notStarted] = (await api.tasks(rolloutId)).map((t) => t.id) as [string, string, string, string];
  await api.run(rolloutId, [done, failed]);
  await expect
    .poll(async () => (await api.tasks(rolloutId)).filter((t) => t.status === "DONE" || t.status === "FAILED").length, { timeout: 60_000 })
    .toBe(2);
  await api.run(rolloutId, [later], new Date(Date.now() + 15 * 60_000).toISOString());
  return { rolloutId, notStarted, failed };
}
