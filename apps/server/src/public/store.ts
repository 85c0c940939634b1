/** `@runway/server/store`: the store functions benchmarks and chaos reproductions drive. See README.md here. */
export { createDb, createPassDb, createPool, type Db } from "../store/db.js";
export type { DB } from "../store/schema.js";
export { FULL_PASS_READERS, SWEEP_LOCK } from "../store/gating.js";
export { instanceCreate, type Sealer } from "../store/instances.js";
export { projectCreate } from "../store/projects.js";
export { rolloutCreate, type NewTask } from "../store/rollouts.js";
export { taskRunFinish, taskRunsClaim, taskRunsFinishAndClaim, taskRunsRenewLeases, type ClaimedRun } from "../store/runs.js";
export { taskRunsCancel, tasksRun, tasksRunAndClaim } from "../store/task-actions.js";
export { tokenCreate } from "../store/tokens.js";
export { userCreate } from "../store/users.js";
