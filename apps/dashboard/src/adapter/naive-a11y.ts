/**
 * What naive-ui leaves out for assistive technology, filled in on the elements it renders (also the
 * teleported ones: modals, drawers, dialogs, popovers), so every view gets it without wrapping each
 * component:
 * - card and modal titles are `role="heading"` without a level (axe: critical) → a level (2 under the page's h1,
 *   3 for a card inside a card, a modal or a drawer);
 * - dialogs and drawers have no name → named by their title;
 * - icons are `role="img"` without a name → hidden, unless the author named them (every icon we draw sits
 *   next to text that says the same).
 * Idempotent and cheap: only added subtrees are looked at.
 */
let seq = 0;

function fix(root: Element): void {
  // The card header wraps the real title in a second heading: one is enough.
  for (const el of root.querySelectorAll<HTMLElement>('.n-card-header[role="heading"]')) el.setAttribute("role", "none");
  // A drawer's title comes as level 1, a second h1 beside the page's: its sections are level 3 under a 2.
  for (const el of root.querySelectorAll<HTMLElement>('.n-drawer-header__main[aria-level="1"]')) el.setAttribute("aria-level", "2");
  for (const el of root.querySelectorAll<HTMLElement>('[role="heading"]:not([aria-level])')) {
    // Under the page's h1 a card is a section (2), a card inside one a part of it (3); a dialog's or drawer's
    // title heads its own box (2).
    const nested = el.closest(".n-card")?.parentElement?.closest(".n-card, .n-drawer");
    el.setAttribute("aria-level", nested ? "3" : "2");
  }
  for (const el of root.querySelectorAll<HTMLElement>(".n-icon:not([aria-label]):not([aria-labelledby]):not([aria-hidden])")) {
    el.setAttribute("aria-hidden", "true");
  }
  const dialogs = [...root.querySelectorAll<HTMLElement>('[role="dialog"]')];
  if (root.matches('[role="dialog"]')) dialogs.push(root as HTMLElement);
  for (const d of dialogs) {
    if (d.hasAttribute("aria-label") || d.hasAttribute("aria-labelledby")) continue;
    const title = d.querySelector<HTMLElement>('[role="heading"], .n-dialog__title, .n-card-header__main, .n-drawer-header__main');
    if (!title) continue;
    title.id ||= `rw-dialog-title-${++seq}`;
    d.setAttribute("aria-labelledby", title.id);
  }
}

export function installNaiveA11y(doc: Document = document): () => void {
  fix(doc.body);
  const observer = new MutationObserver((records) => {
    for (const r of records) {
      for (const n of r.addedNodes) {
        if (n.nodeType !== 1) continue;
        const el = n as Element;
        // A dialog's title may arrive after the dialog itself: look from the nearest dialog up.
        fix(el.closest('[role="dialog"]') ?? el);
      }
    }
  });
  observer.observe(doc.body, { childList: true, subtree: true });
  return () => observer.disconnect();
}
