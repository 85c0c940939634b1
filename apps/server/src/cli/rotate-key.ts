import { loadConfig } from "../config.js";
import { startEmbeddedPostgres, type EmbeddedHandle } from "../db/embedded.js";
import { migrate } from "../db/migrate.js";
import { createDb, createPool } from "../store/db.js";
import { generateKey, parseKey } from "../secrets/secret-box.js";
import { loadKeys, removePreviousKeyFile, replaceKeyFile } from "../secrets/keys.js";
import { secretsRotate } from "../secrets/startup.js";

/**
 * Re-encrypts every stored secret under a new key: `pnpm --filter @runway/server rotate-key`.
 *
 * - Key in RUNWAY_SECRET_KEY: restart every replica with RUNWAY_SECRET_KEY=<new> and
 *   RUNWAY_SECRET_KEY_PREVIOUS=<old> (they open both), run this with the same variables, then drop
 *   RUNWAY_SECRET_KEY_PREVIOUS. Or pass the new key as RUNWAY_NEW_SECRET_KEY with the old one still in
 *   RUNWAY_SECRET_KEY.
 * - Key file (the embedded default): a new key is generated, written to secret.key (the old one kept as
 *   secret.key.previous until the rotation is done); restart the server afterwards.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  let embedded: EmbeddedHandle | undefined;
  let url = config.databaseUrl;
  if (!url) {
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort });
    url = embedded.url;
  }
  const pool = createPool(url, 2, "runway rotate-key");
  const db = createDb(pool);
  try {
    await migrate(url);
    const current = await loadKeys(config);
    const fromEnv = process.env.RUNWAY_NEW_SECRET_KEY;
    let box = current.box;
    if (fromEnv) box = current.box.withPrimary(parseKey(fromEnv, "RUNWAY_NEW_SECRET_KEY"));
    else if (current.file) {
      const key = generateKey();
      await replaceKeyFile(current.file, key);
      box = current.box.withPrimary(key);
    } else if (current.box.keyIds.length < 2) {
      throw new Error("nothing to rotate to: set RUNWAY_NEW_SECRET_KEY, or RUNWAY_SECRET_KEY=<new> with RUNWAY_SECRET_KEY_PREVIOUS=<old>");
    }
    const { resealed } = await secretsRotate(db, box);
    if (current.file) await removePreviousKeyFile(current.file);
    console.log(`rotate-key: ${resealed} secret(s) now sealed with key ${box.keyId}; the old key no longer opens anything.`);
    if (fromEnv) console.log("Set RUNWAY_SECRET_KEY to the new key on every replica and restart them.");
    if (current.file) console.log(`The new key is in ${current.file}. Restart the server.`);
  } finally {
    await db.destroy();
    await embedded?.stop();
  }
}

main().catch((err) => {
  console.error(`rotate-key failed: ${(err as Error).message}`);
  process.exit(1);
});
