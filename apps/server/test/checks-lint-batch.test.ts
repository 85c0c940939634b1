import { describe, expect, it } from "vitest";
import { TaskType } from "@runway/shared";
import { lintTasks } from "../src/checks/lint.js";

/**
 * Batched lint (checks/squawk.ts): statements go to squawk in several chunks per transaction mode while
 * later ones are still parsed, and recent reports are reused. Each task must still get exactly its own
 * statement's findings, whichever chunk it landed in.
 */

/** Several chunks of transactional statements (at least 250 each) and one of the others, each recognisable by its findings. */
function statements(n: number, salt: string) {
  return Array.from({ length: n }, (_, i) => ({
    type: TaskType.DATABASE_DATA_UPDATE,
    statement:
      i % 3 === 0
        ? `CREATE INDEX CONCURRENTLY ${salt}_i${i} ON t${i} (a)`
        : `${" ".repeat(i % 7)}CREATE INDEX ${salt}_j${i} ON t${i} (a);\nALTER TABLE t${i} ADD COLUMN c${i} int NOT NULL DEFAULT 0;`,
  }));
}

const rulesOf = (r: { findings: { rule: string }[] }) => r.findings.map((f) => f.rule).sort();

describe("batched lint", () => {
  it("maps every chunk's findings to its own statement, in both transaction modes", async () => {
    const tasks = statements(700, "a");
    const results = await lintTasks(tasks);
    expect(results).toHaveLength(tasks.length);
    results.forEach((r, i) => {
      expect(r.error).toBeUndefined();
      if (i % 3 === 0) {
        // Runs outside a transaction: squawk is not told it runs in one, and Runway says it cannot be dry-run.
        expect(rulesOf(r)).not.toContain("ban-concurrent-index-creation-in-transaction");
        expect(rulesOf(r)).toContain("runway-no-transaction");
      } else {
        const index = r.findings.find((f) => f.rule === "require-concurrent-index-creation");
        // The finding points at this statement's own CREATE INDEX (after its i % 7 leading blanks).
        expect(index?.position, `task ${i}`).toBe((i % 7) + 1);
        expect(rulesOf(r)).not.toContain("runway-no-transaction");
      }
    });
  });

  it("a second lint of the same statements reads the same findings, tasks sharing a statement share its result", async () => {
    const tasks = statements(300, "b");
    const first = await lintTasks(tasks);
    const again = await lintTasks([...tasks, ...tasks]);
    expect(again.slice(0, 300)).toEqual(first);
    expect(again[300]).toBe(again[0]);
  });
});
