/** `@runway/server/executors`: the PostgreSQL executor and the interface every executor implements. See README.md here. */
export { PostgresExecutor } from "../executors/postgres.js";
export { isStatementErrorCode } from "../executors/target-errors.js";
export type { ExecContext, ExecOutcome, Executor } from "../executors/types.js";
