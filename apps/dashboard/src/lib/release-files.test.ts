import { describe, expect, it } from "vitest";
import { versionOf } from "./release-files";

describe("versionOf (the label of a picked file)", () => {
  it("reads the version as the server does, the extension in any case", () => {
    expect(versionOf("migrations/V1_2__add_x.sql")).toBe("1.2");
    expect(versionOf("V3__init.SQL")).toBe("3");
    expect(versionOf("R__views.sql")).toBeNull();
    expect(versionOf("v4__lower.sql")).toBeNull();
  });
});
