import { describe, expect, it } from "vitest";
import { flywayOnly, versionOf } from "./release-files";

describe("versionOf (the label of a picked file)", () => {
  it("reads the version as the server does, the extension in any case", () => {
    expect(versionOf("migrations/V1_2__add_x.sql")).toBe("1.2");
    expect(versionOf("V3__init.SQL")).toBe("3");
    expect(versionOf("R__views.sql")).toBeNull();
    expect(versionOf("v4__lower.sql")).toBeNull();
  });
  it("knows Flyway's undo, baseline and callback scripts, which the server leaves out", () => {
    expect(flywayOnly("flyway/U2__undo.sql")).toBe(true);
    expect(flywayOnly("B5_1__baseline.SQL")).toBe(true);
    expect(flywayOnly("flyway/afterMigrate__grants.sql")).toBe(true);
    expect(flywayOnly("afterthought.sql")).toBe(false);
    expect(flywayOnly("Users__add.sql")).toBe(false);
    expect(flywayOnly("V2__b.sql")).toBe(false);
  });
});
