/**
 * What naive-ui leaves out for assistive technology, filled in on the elements it renders (also the
 * teleported ones: modals, drawers, dialogs, popovers), so every view gets it without wrapping each
 * component:
 * - card and modal titles are `role="heading"` without a level (axe: critical) → a level;
 * - dialogs and drawers have no name → named by their title;
 * - icons are `role="img"` without a name → hidden, unless the author named them (every icon we draw sits
 *   next to text that says the same).
 * Idempotent and cheap: only added subtrees are looked at.
 */
let seq = 0;

function fix(root: Element): void {
  // The card header wraps the real title in a second heading: one is enough.
  for (const el of root.querySelectorAll<HTMLElement>('.n-card-header[role="heading"]')) el.setAttribute("role", "none");
  for (const el of root.querySelectorAll<HTMLElement>('[role="heading"]:not([aria-level])')) {
    el.setAttribute("aria-level", el.closest(".n-modal, .n-dialog, .n-drawer") ? "2" : "3");
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
