import { writeReport } from "./lib/report.js";

/** `pnpm --filter @runway/bench report`: regenerates docs/benchmarks.md's tables from bench/results/ without measuring. */
writeReport().then(
  (doc) => console.log(`regenerated ${doc}`),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
