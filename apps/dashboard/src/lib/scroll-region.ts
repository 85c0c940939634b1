import type { Directive } from "vue";

/** The element a naive-ui data table scrolls its rows in (a virtual list, or its scrollbar's container). */
const SCROLLER = ".n-data-table-base-table-body > .v-vl, .n-data-table-base-table-body > .n-scrollbar-container";

function mark(el: HTMLElement, label: string): void {
  for (const box of el.querySelectorAll<HTMLElement>(SCROLLER)) {
    if (box.scrollHeight > box.clientHeight + 1) {
      box.tabIndex = 0;
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", label);
    } else {
      box.removeAttribute("tabindex");
      box.removeAttribute("role");
      box.removeAttribute("aria-label");
    }
  }
}

/**
 * `v-scroll-region="label"` on a data table with a `max-height`: its rows scroll in an element of naive-ui's
 * that a keyboard cannot focus, so where the rows hold nothing focusable (a release's plan) the rows past the
 * box could not be reached without a mouse (axe: scrollable-region-focusable). While the rows overflow, that
 * element is a named region in the tab order, which the arrow keys scroll; while they fit, it is not.
 */
export const vScrollRegion: Directive<HTMLElement, string> = {
  mounted: (el, binding) => watchRows(el, binding.value),
  updated: (el, binding) => watchRows(el, binding.value),
  unmounted: (el) => observers.get(el)?.disconnect(),
};

const observers = new WeakMap<HTMLElement, ResizeObserver>();

/** The rows are laid out after the table mounts (a virtual list measures first): mark again as they change size. */
function watchRows(el: HTMLElement, label: string): void {
  mark(el, label);
  observers.get(el)?.disconnect();
  if (typeof ResizeObserver === "undefined") return;
  const observer = new ResizeObserver(() => mark(el, label));
  for (const box of el.querySelectorAll<HTMLElement>(SCROLLER)) {
    observer.observe(box);
    for (const child of box.children) observer.observe(child);
  }
  observers.set(el, observer);
}
