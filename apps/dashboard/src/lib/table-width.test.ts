import { describe, expect, it } from "vitest";
import { leastWidth } from "./table-width";

describe("leastWidth", () => {
  it("adds up the columns' widths, or their least widths", () => {
    expect(
      leastWidth([
        { key: "a", minWidth: 220 },
        { key: "b", width: 140 },
        { key: "c", width: "150" },
      ]),
    ).toBe(510);
    expect(leastWidth([])).toBe(0);
  });
});
