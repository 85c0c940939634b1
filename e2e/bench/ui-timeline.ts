import type { Page } from "@playwright/test";

/**
 * Timeline timings for `pnpm bench:ui` at 10k tasks (issue 17: "usable at 10,000 tasks"): opening the tab
 * (click → the first bars painted, the chart's code loaded on first use included), regrouping by database
 * (click → the new groups painted); its scrolling is measured by ui-scroll.ts.
 */

/** Clicks `selector` and resolves with the ms until `painted` holds in the page (then one more frame); bounded. */
async function clickUntil(page: Page, selector: string, painted: "bars" | "regrouped"): Promise<number> {
  return page.evaluate(
    async ({ selector, painted }) => {
      const groups = () => [...document.querySelectorAll('[data-testid="timeline-group"]')].map((g) => g.textContent).join("|");
      const before = groups();
      const bars = () => document.querySelector('[data-testid="timeline-bar"]') !== null;
      const done = painted === "bars" ? bars : () => bars() && groups() !== before;
      const t0 = performance.now();
      document.querySelector<HTMLElement>(selector)!.click();
      return new Promise<number>((resolve, reject) => {
        const check = () =>
          done()
            ? requestAnimationFrame(() => resolve(performance.now() - t0))
            : performance.now() - t0 > 30_000
              ? reject(new Error(`${selector}: the timeline did not paint within 30 s`))
              : requestAnimationFrame(check);
        check();
      });
    },
    { selector, painted },
  );
}

export const timelineOpen = (page: Page) => clickUntil(page, "#rollout-tab-timeline", "bars");
export const timelineRegroup = (page: Page) => clickUntil(page, '[data-testid="timeline-by-database"] input', "regrouped");
