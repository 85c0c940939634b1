/** `@runway/server/db`: a database to run against (migrations, embedded PostgreSQL). See README.md here. */
export { migrate } from "../db/migrate.js";
export { freePort, startEmbeddedPostgres, type EmbeddedHandle } from "../db/embedded.js";
export { withDatabase } from "../db/url.js";
