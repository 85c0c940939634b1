import { describe, expect, it } from "vitest";
import { virtualWindow } from "./virtual-window";

const base = { rowHeight: 40, overscan: 5, viewport: 400 };

describe("virtualWindow", () => {
  it("renders the rows in view plus the overscan, and pads for the rest", () => {
    expect(virtualWindow({ ...base, count: 10_000, scrollTop: 0 })).toEqual({
      start: 0,
      end: 16,
      padTop: 0,
      padBottom: (10_000 - 16) * 40,
    });
    const w = virtualWindow({ ...base, count: 10_000, scrollTop: 4_000 });
    expect(w).toEqual({ start: 95, end: 116, padTop: 95 * 40, padBottom: (10_000 - 116) * 40 });
    expect(w.padTop + (w.end - w.start) * 40 + w.padBottom).toBe(10_000 * 40);
  });

  it("shows the last rows when the list got shorter than the scroll position", () => {
    const w = virtualWindow({ ...base, count: 30, scrollTop: 200_000 });
    expect(w.end).toBe(30);
    expect(w.start).toBe(30 - 11 - 5);
    expect(w.padBottom).toBe(0);
  });

  it("handles short and empty lists and an unmeasured viewport", () => {
    expect(virtualWindow({ ...base, count: 3, scrollTop: 0 })).toEqual({ start: 0, end: 3, padTop: 0, padBottom: 0 });
    expect(virtualWindow({ ...base, count: 0, scrollTop: 50 })).toEqual({ start: 0, end: 0, padTop: 0, padBottom: 0 });
    expect(virtualWindow({ ...base, viewport: 0, count: 100, scrollTop: 0 }).end).toBe(7);
  });
});
