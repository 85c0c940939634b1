import type { Config } from "./config.js";
import { TargetGuard } from "./executors/target-guard.js";
import { loadKeys } from "./secrets/keys.js";
import type { SecretBox } from "./secrets/secret-box.js";
import { secretsStartup } from "./secrets/startup.js";
import { controlIdentity } from "./store/control.js";
import type { Db } from "./store/db.js";

/** The trust boundary's startup pieces, shared by the API and the executor (docs/security.md). */
export interface Trust {
  secrets: SecretBox;
  guard: TargetGuard;
}

/**
 * After migrations: loads the secret key and proves it against the database (a replica with the wrong
 * key throws here, before serving anything), seals plaintext secrets, and learns which cluster is the
 * control plane so that no target connection can reach it.
 */
export async function startTrust(
  db: Db,
  config: Pick<Config, "secretKey" | "secretKeyPrevious" | "dataDir">,
): Promise<Trust & { sealed: number }> {
  const { box } = await loadKeys(config);
  const { sealed } = await secretsStartup(db, box);
  return { secrets: box, guard: new TargetGuard(await controlIdentity(db)), sealed };
}
