import { describe, expect, it } from "vitest";
import { installNaiveA11y } from "./naive-a11y";

/** A naive-ui card as it renders: its header and the title's heading, which carries no level. */
const card = (title: string, inner = "") =>
  `<div class="n-card"><div class="n-card-header" role="heading"><div class="n-card-header__main" role="heading">${title}</div></div>${inner}</div>`;

describe("headings naive-ui renders, under the page's h1", () => {
  it("a card is a section (2), a card in a card or a drawer a part of it (3), a drawer's title 2", () => {
    document.body.innerHTML = `<main><h1>Page</h1>${card("Settings", card("Inner"))}</main>
      <div class="n-drawer"><div class="n-drawer-header__main" role="heading" aria-level="1">Task #1</div>${card("In drawer")}</div>
      <div class="n-card n-modal"><div class="n-card-header" role="heading"><div class="n-card-header__main" role="heading">Modal</div></div></div>`;
    const stop = installNaiveA11y(document);
    const levels = [...document.querySelectorAll('[role="heading"]')].map(
      (e) => `${e.firstChild!.textContent}: ${e.getAttribute("aria-level")}`,
    );
    expect(levels).toEqual(["Settings: 2", "Inner: 3", "Task #1: 2", "In drawer: 3", "Modal: 2"]);
    // The card header's own role is dropped: one heading a title.
    expect(document.querySelectorAll('.n-card-header[role="heading"]')).toHaveLength(0);
    stop();
  });
});
