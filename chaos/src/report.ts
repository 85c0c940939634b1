import type { CheckResult, HarnessLog } from "./facts.js";
import type { ChaosOptions } from "./options.js";
import { summarize } from "./checks/context.js";
import type { Workload } from "./workload.js";

export interface Report {
  command: string;
  /** Where report.json, facts.json and the replica logs are. */
  outDir: string;
  options: ChaosOptions;
  workload: Record<string, number>;
  harness: {
    kills: number;
    freezes: number;
    faults: Record<string, number>;
    cancels: Record<string, number>;
    retries: number;
    crashes: string[];
  };
  quiescent: boolean;
  timings: Record<string, number>;
  checks: CheckResult[];
  ok: boolean;
}

export function summarizeWorkload(w: Workload): Record<string, number> {
  const count = (k: string) => w.tasks.filter((t) => t.kind === k).length;
  return {
    projects: w.projects.length,
    rollouts: w.rollouts.length,
    tasks: w.tasks.length - count("ballast"),
    databases: w.databases.length,
    versioned: w.tasks.filter((t) => t.schemaVersion).length,
    schemaChanges: count("schema") + count("sdl"),
    dataUpdates: count("data"),
    failOnPurpose: count("fail"),
    cancelTargets: count("cancel"),
    nonTransactional: count("nontx") + count("cic"),
    databaseCreates: count("create"),
    scheduled: w.tasks.filter((t) => t.scheduleDelayMs !== null && t.kind !== "ballast").length,
    ballast: count("ballast"),
  };
}

export function summarizeHarness(h: HarnessLog): Report["harness"] {
  const cancels: Record<string, number> = {};
  for (const c of h.cancels) cancels[c.outcome] = (cancels[c.outcome] ?? 0) + 1;
  // Per fault kind, as planned: the kill that ends a clock skew is part of the skew, not a kill of its own.
  const faults: Record<string, number> = {};
  for (const f of h.faults) if (!f.partOf) faults[f.kind] = (faults[f.kind] ?? 0) + 1;
  return {
    kills: h.faults.filter((f) => f.kind === "kill" && !f.partOf).length,
    freezes: h.faults.filter((f) => f.kind === "freeze").length,
    faults,
    cancels,
    retries: h.retries.length,
    crashes: h.crashes,
  };
}

/** The printed table: one row per invariant, then the first violations of each failed one. */
export function formatTable(checks: CheckResult[]): string {
  const rows = checks.map((c) => [c.name, c.ok ? "PASS" : `FAIL (${c.violations.length})`, c.detail]);
  const widths = [0, 1].map((i) => Math.max(...rows.map((r) => r[i]!.length), i === 0 ? 9 : 6));
  const line = (cells: string[]) => `| ${cells[0]!.padEnd(widths[0]!)} | ${cells[1]!.padEnd(widths[1]!)} | ${cells[2]} |`;
  const out = [
    line(["Invariant", "Result", "Detail"]),
    `|${"-".repeat(widths[0]! + 2)}|${"-".repeat(widths[1]! + 2)}|--------|`,
    ...rows.map(line),
  ];
  for (const c of checks.filter((x) => !x.ok)) {
    out.push("", `${c.name}: violations`);
    for (const v of summarize(c.violations)) out.push(`  - ${v}`);
  }
  return out.join("\n");
}
