import type { Page } from "@playwright/test";

/**
 * Scrolls the task table or the timeline 120 px per frame for 240 frames (`pnpm bench:ui`): frame-to-frame
 * times, whether it moved, and whether other task rows came into view (the virtual table swaps its rows).
 */
export async function scrollFrames(
  page: Page,
  which: "task-table" | "timeline",
): Promise<{ frames: number[]; moved: boolean; rowsChanged: boolean }> {
  return page.evaluate(async (which) => {
    // The table's scrolling element is naive-ui's, inside it: the one taller than it by far.
    const scroller =
      which === "timeline"
        ? document.querySelector<HTMLElement>('[data-testid="timeline-scroller"]')!
        : [...document.querySelector('[data-testid="task-table"]')!.querySelectorAll<HTMLElement>("*")].find(
            (el) => el.scrollHeight > el.clientHeight + 1000,
          )!;
    const firstId = () => document.querySelector("tr[data-task-id]")?.getAttribute("data-task-id");
    const [top, first] = [scroller.scrollTop, firstId()];
    const frames: number[] = [];
    let last = performance.now();
    await new Promise<void>((resolve) => {
      let n = 0;
      const step = (ts: number) => {
        frames.push(ts - last);
        last = ts;
        scroller.scrollTop += 120;
        if (++n < 240) requestAnimationFrame(step);
        else resolve();
      };
      requestAnimationFrame(step);
    });
    return { frames: frames.slice(1), moved: scroller.scrollTop > top, rowsChanged: firstId() !== first };
  }, which);
}
