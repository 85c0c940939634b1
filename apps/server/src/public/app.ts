/** `@runway/server`: the app as a whole, for benchmarks that run it in-process. See README.md here. */
export { buildApp } from "../app.js";
export { loadConfig } from "../config.js";
export { startReplica, type ReplicaOverrides } from "../replica.js";
export { Metrics } from "../metrics.js";
export { hashPassword, newApiToken, sha256 } from "../auth/secrets.js";
export { startTrust } from "../trust.js";
export { generateKey, SecretBox } from "../secrets/secret-box.js";
