/** `@runway/server/checks`: lint entry points the benchmarks drive (issue 15). See README.md here. */
export { lintForCreate, lintTasks, type LintInput, type LintResult } from "../checks/lint.js";
