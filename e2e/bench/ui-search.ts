import type { Page } from "@playwright/test";

/**
 * Search and sort timings for `pnpm bench:ui`: from the action (Enter in the search box, a click on a column
 * header) to the server's answer painted in the table (the next animation frame after the rows match).
 */

/** Types `text` into the search box, presses Enter and waits until every row shown matches it. */
export async function searchTiming(page: Page, text: string): Promise<number> {
  return page.evaluate(async (text) => {
    const input = document.querySelector<HTMLInputElement>('[data-testid="task-search"] input')!;
    input.focus();
    const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")!.set!;
    setter.call(input, text);
    input.dispatchEvent(new Event("input", { bubbles: true }));
    const t0 = performance.now();
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", code: "Enter", bubbles: true }));
    const done = () => {
      const cells = [...document.querySelectorAll('tr[data-task-id] td[data-col-key="database"]')];
      return cells.length > 0 && cells.every((c) => (c.textContent ?? "").includes(text));
    };
    await new Promise<void>((resolve, reject) => {
      const check = () =>
        done()
          ? requestAnimationFrame(() => resolve())
          : performance.now() - t0 > 30_000
            ? reject(new Error("timed out"))
            : requestAnimationFrame(check);
      check();
    });
    return performance.now() - t0;
  }, text);
}

/** Clears the search (not timed) and waits for the unfiltered table. */
export async function clearSearch(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const input = document.querySelector<HTMLInputElement>('[data-testid="task-search"] input')!;
    const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")!.set!;
    setter.call(input, "");
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", code: "Enter", bubbles: true }));
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const check = () =>
        !document.querySelector('[data-testid="search-count"]')
          ? resolve()
          : performance.now() - t0 > 30_000
            ? reject(new Error("timed out"))
            : requestAnimationFrame(check);
      check();
    });
  });
}

/** Clicks a column header and waits until the header says so and the rows in view are in that order. */
export async function sortTiming(page: Page, column: string): Promise<number> {
  return page.evaluate(async (column) => {
    const th = document.querySelector<HTMLElement>(`th[data-col-key="${column}"]`)!;
    const before = th.getAttribute("aria-sort");
    const want = before === "ascending" ? "descending" : "ascending";
    const key = (tr: Element) => (tr.querySelector(`td[data-col-key="${column}"]`)?.textContent ?? "").trim();
    const t0 = performance.now();
    th.querySelector<HTMLElement>("button")!.click();
    const done = () => {
      if (th.getAttribute("aria-sort") !== want) return false;
      const rows = [...document.querySelectorAll("tr[data-task-id]")];
      // Ascending ids is the table's own order (no server query, so no count); any other order is the server's answer.
      const serverOrder = !(column === "id" && want === "ascending");
      if (rows.length < 2 || (serverOrder && document.querySelector('[data-testid="search-count"]') === null)) return false;
      const keys = rows.map(key);
      // Ids ("#12") compare as numbers; text as the server's collation orders these ASCII names.
      const num = (k: string) => (/^#\d+$/.test(k) ? Number(k.slice(1)) : null);
      const cmp = (a: string, b: string) => (num(a) !== null && num(b) !== null ? num(a)! - num(b)! : a < b ? -1 : a > b ? 1 : 0);
      return keys.every((k, i) => i === 0 || (want === "ascending" ? cmp(keys[i - 1]!, k) <= 0 : cmp(keys[i - 1]!, k) >= 0));
    };
    // On a timeout, say what the page showed instead (the bench is no test: its failure must explain itself).
    const seen = () =>
      JSON.stringify({
        ariaSort: th.getAttribute("aria-sort"),
        want,
        rows: document.querySelectorAll("tr[data-task-id]").length,
        searchCount: document.querySelector('[data-testid="search-count"]')?.textContent ?? null,
        keys: [...document.querySelectorAll("tr[data-task-id]")].slice(0, 8).map(key),
      });
    await new Promise<void>((resolve, reject) => {
      const check = () =>
        done()
          ? requestAnimationFrame(() => resolve())
          : performance.now() - t0 > 30_000
            ? reject(new Error(`sort by ${column} timed out; the page showed ${seen()}`))
            : requestAnimationFrame(check);
      check();
    });
    return performance.now() - t0;
  }, column);
}
