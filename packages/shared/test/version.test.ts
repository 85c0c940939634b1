import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { compareVersions, versionSortKey } from "../src/version.js";

describe("schema versions", () => {
  it.each([
    ["0003", "0010", -1],
    ["1.2.9", "1.2.10", -1],
    ["0003", "3", 0],
    ["1.2", "1.2.0", -1],
    ["2", "10", -1],
    ["1.a", "1.b", -1],
    ["1.9", "1.a", -1],
    ["2024-01-02", "2024-01-10", -1],
  ])("%s vs %s", (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
    expect(compareVersions(b, a)).toBe(-expected || 0);
  });

  it("the byte-ordered sort key agrees with compareVersions", () => {
    const part = fc.oneof(fc.stringMatching(/^[0-9]{1,6}$/), fc.stringMatching(/^[a-z][a-z0-9]{0,4}$/));
    const version = fc.array(part, { minLength: 1, maxLength: 4 }).map((ps) => ps.join("."));
    fc.assert(
      fc.property(version, version, (a, b) => {
        const ka = versionSortKey(a);
        const kb = versionSortKey(b);
        const byKey = ka < kb ? -1 : ka > kb ? 1 : 0;
        return byKey === compareVersions(a, b);
      }),
      { numRuns: 2000 },
    );
  });
});
