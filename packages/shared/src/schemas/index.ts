/**
 * The REST API's wire contract (`/api/v1`): one TypeBox schema per resource, one file per resource. The
 * server validates, serializes and documents with these schemas; the types are `Static<>` of them, so the
 * server's store, the dashboard and the tests share one definition. Ids are strings (bigint ids travel as
 * decimal strings); times are ISO 8601 strings.
 *
 * Import values from `@runway/shared/schemas` (it loads typebox); browser code imports only types
 * (`import type`), which costs nothing in the bundle.
 */
export * from "./common.js";
export * from "./page.js";
export * from "./error.js";
export * from "./project.js";
export * from "./instance.js";
export * from "./rollout.js";
export * from "./waiting-cause.js";
export * from "./task-run.js";
export * from "./task.js";
export * from "./task-filter.js";
export * from "./log.js";
export * from "./user.js";
export * from "./project-member.js";
export * from "./auth.js";
export * from "./token.js";
export * from "./audit.js";
export * from "./event.js";
export * from "./release.js";
export * from "./webhook.js";
export * from "./retry.js";
export * from "./blockers.js";
export * from "./task-filter.js";
export * from "./bulk.js";
export * from "./checks.js";
export * from "./gates.js";
export * from "./replica.js";
