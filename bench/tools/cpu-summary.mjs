// Sums a V8 CPU profile (.cpuprofile, e.g. executor-profile.ts's PROFILE_CPU) by self time: per source file
// (dependencies by package) and per function. Usage: node tools/cpu-summary.mjs <profile> [top=30]
import fs from "node:fs";

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error("usage: node tools/cpu-summary.mjs <profile.cpuprofile> [top]");
  process.exit(2);
}
const top = Number(topArg ?? 30);
const profile = JSON.parse(fs.readFileSync(file, "utf8"));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const where = (url) =>
  url
    .replace(/^file:\/\//, "")
    .replace(/.*node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+).*/, "npm:$1")
    .replace(/.*?\/(apps|packages|bench)\//, "$1/");
const byFunction = new Map();
const byFile = new Map();
let total = 0;
profile.samples.forEach((id, i) => {
  const us = profile.timeDeltas[i] ?? 0;
  total += us;
  const { functionName, url, lineNumber } = nodes.get(id).callFrame;
  const f = where(url) || "(vm)";
  const fn = `${functionName || "(anonymous)"} ${f}${url ? `:${lineNumber + 1}` : ""}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  byFile.set(f, (byFile.get(f) ?? 0) + us);
});
const idle = [...byFunction].filter(([k]) => k.startsWith("(idle)")).reduce((a, [, v]) => a + v, 0);
console.log(`${(total / 1000).toFixed(0)} ms sampled, ${((total - idle) / 1000).toFixed(0)} ms not idle`);
const print = (title, m) => {
  console.log(`\n${title}`);
  for (const [k, v] of [...m]
    .filter(([k]) => !k.startsWith("(idle)"))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top))
    console.log(`${(v / 1000).toFixed(0).padStart(8)} ms  ${k}`);
};
print("by file", byFile);
print("by function", byFunction);
