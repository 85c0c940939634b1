import { describe, expect, it } from "vitest";
import { commandFor } from "./shortcuts";

const key = (k: string, mods: Partial<{ ctrlKey: boolean; metaKey: boolean; altKey: boolean }> = {}) => ({
  key: k,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  ...mods,
});
const row = { inField: false, onRow: true };
const page = { inField: false, onRow: false };

describe("keyboard shortcuts", () => {
  it("maps keys to commands on a row", () => {
    expect(commandFor(key("j"), row)).toBe("next");
    expect(commandFor(key("ArrowUp"), row)).toBe("previous");
    expect(commandFor(key("Enter"), row)).toBe("open");
    expect(commandFor(key(" "), row)).toBe("select");
    expect(commandFor(key("r"), row)).toBe("run");
    expect(commandFor(key("c"), row)).toBe("cancel");
  });

  it("leaves arrows, Space and Enter alone outside the table, and everything while typing or with a modifier", () => {
    expect(commandFor(key("ArrowDown"), page)).toBeNull();
    expect(commandFor(key("Enter"), page)).toBeNull();
    expect(commandFor(key(" "), page)).toBeNull();
    expect(commandFor(key("j"), page)).toBe("next");
    expect(commandFor(key("?"), page)).toBe("help");
    expect(commandFor(key("r"), { inField: true, onRow: false })).toBeNull();
    expect(commandFor(key("r", { ctrlKey: true }), row)).toBeNull();
  });
});
