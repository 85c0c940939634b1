import { TASK_STATUS_ORDER } from "@runway/shared";
import { describe, expect, it } from "vitest";
import { blend, contrast, STATUS_COLORS, SURFACE, themeVars } from "./theme";

describe("status colors", () => {
  for (const mode of ["light", "dark"] as const) {
    it(`reach 4.5:1 in ${mode} mode on the page, a card, their own tint, and as a fill under text`, () => {
      const s = SURFACE[mode];
      for (const status of TASK_STATUS_ORDER) {
        const c = STATUS_COLORS[mode][status];
        for (const bg of [s.page, s.card, blend(c, s.card, 0.12)])
          expect(contrast(c, bg), `${status} on ${bg}`).toBeGreaterThanOrEqual(4.5);
        expect(contrast(s.on, c), `text on ${status}`).toBeGreaterThanOrEqual(4.5);
      }
      for (const accent of [s.link, s.warn, s.info]) expect(contrast(accent, blend(accent, s.card, 0.14))).toBeGreaterThanOrEqual(4.5);
    });
  }

  it("computes WCAG ratios", () => {
    expect(contrast("#000000", "#ffffff")).toBeCloseTo(21, 5);
    expect(contrast("#d48806", "#ffffff")).toBeLessThan(3); // the old PENDING
  });

  it("exposes every status as a CSS variable", () => {
    expect(themeVars(true)["--status-PENDING"]).toBe(STATUS_COLORS.dark.PENDING);
    expect(themeVars(false)["--rw-link"]).toBe(SURFACE.light.link);
  });
});
