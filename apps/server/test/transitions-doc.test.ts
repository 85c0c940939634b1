import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../src/config.js";
import { TRANSITIONS } from "../src/store/transitions/table.js";

/** docs/scheduler.md's transition table, as the code's table renders it. */
function render(): string {
  const rows = Object.entries(TRANSITIONS).map(
    ([name, t]) => `| \`${name}\` | ${t.from ?? "—"} | ${t.to.join(", ")} | ${t.by} | ${t.fence} |`,
  );
  return ["| Transition | From | To | By (`payload.by`) | Fence |", "| --- | --- | --- | --- | --- |", ...rows].join("\n");
}

describe("run transitions", () => {
  it("docs/scheduler.md lists exactly the transitions the code has", () => {
    const doc = readFileSync(path.join(REPO_ROOT, "docs/scheduler.md"), "utf8");
    const start = doc.indexOf("<!-- transitions:begin -->");
    const end = doc.indexOf("<!-- transitions:end -->");
    expect(start, "docs/scheduler.md has a <!-- transitions:begin --> marker").toBeGreaterThan(-1);
    // On failure, paste the expected table between the markers.
    expect(doc.slice(start + "<!-- transitions:begin -->".length, end).trim()).toBe(render());
  });
});
