import type { Db } from "../store/db.js";
import {
  secretKeyCheckAdd,
  secretKeyChecks,
  secretKeyChecksKeepOnly,
  secretsLocked,
  storedSecretReplace,
  storedSecrets,
  secretOwner,
} from "../store/secrets.js";
import { SecretBox, SecretKeyError } from "./secret-box.js";

/** What a key check value seals: opening it proves the key, and it tells nothing else. */
const CHECK_TEXT = "runway secret key check";

/**
 * Startup, after migrations: proves this replica holds the key the stored secrets are sealed with (or
 * records its key on a fresh database), then seals any plaintext secret (rows from before encryption, or
 * written by a replica of the previous release). Idempotent; safe with replicas starting together.
 * Throws SecretKeyError with a message for the operator: a replica with the wrong key must not start
 * and then fail every run.
 */
export async function secretsStartup(db: Db, box: SecretBox): Promise<{ sealed: number }> {
  await secretsLocked(db, async (trx) => {
    const checks = await secretKeyChecks(trx);
    const ours = checks.filter((c) => box.keyIds.includes(c.keyId));
    for (const c of ours) {
      let ok = false;
      try {
        ok = box.open(c.checkValue) === CHECK_TEXT;
      } catch {
        ok = false;
      }
      if (!ok)
        throw new SecretKeyError(`the secret key with id ${c.keyId} does not open its check value in the database: the key is wrong`);
    }
    if (checks.length > 0 && ours.length === 0) {
      throw new SecretKeyError(
        `this replica's secret key (id ${box.keyId}) is not the key the stored secrets are sealed with (id ${checks.map((c) => c.keyId).join(", ")}). ` +
          "Every replica needs the same key: set RUNWAY_SECRET_KEY (or restore the data directory's secret.key).",
      );
    }
    // A fresh database, or the first replica started with a new key during a rotation.
    if (!ours.some((c) => c.keyId === box.keyId)) await secretKeyCheckAdd(trx, { keyId: box.keyId, checkValue: box.seal(CHECK_TEXT) });
  });
  const stored = await storedSecrets(db);
  for (const s of stored) {
    const keyId = SecretBox.keyIdOfValue(s.value);
    if (keyId !== null && !box.keyIds.includes(keyId)) {
      throw new SecretKeyError(
        `${secretOwner(s)} is sealed with key ${keyId}, which this replica does not have; set RUNWAY_SECRET_KEY_PREVIOUS to it while rotating`,
      );
    }
  }
  return { sealed: await resealAll(db, box, (v) => !SecretBox.isSealed(v)) };
}

/** Seals again, under the box's sealing key, every stored secret `which` selects. Returns how many. */
async function resealAll(db: Db, box: SecretBox, which: (value: string) => boolean): Promise<number> {
  let n = 0;
  for (const s of await storedSecrets(db)) {
    if (!which(s.value)) continue;
    // A concurrent change (an admin editing the instance, another replica sealing it) wins; it is sealed too.
    if (await storedSecretReplace(db, { ...s, before: s.value, after: box.seal(box.open(s.value)) })) n++;
  }
  return n;
}

/**
 * Key rotation (cli/rotate-key.ts): `box` seals with the new key and still opens the old one. Records the
 * new key, seals every secret under it, then forgets the old key's check, after which a replica holding
 * only the old key refuses to start.
 */
export async function secretsRotate(db: Db, box: SecretBox): Promise<{ resealed: number }> {
  await secretsStartup(db, box);
  let resealed = 0;
  // Rows changed concurrently by a replica still sealing with the old key are caught by the next round.
  for (let round = 0; round < 5; round++) {
    const n = await resealAll(db, box, (v) => SecretBox.keyIdOfValue(v) !== box.keyId);
    resealed += n;
    if (n === 0) break;
  }
  const left = (await storedSecrets(db)).filter((s) => SecretBox.keyIdOfValue(s.value) !== box.keyId);
  if (left.length > 0)
    throw new SecretKeyError(`secrets still sealed with an old key: ${left.map(secretOwner).join(", ")}; run rotate-key again`);
  await secretKeyChecksKeepOnly(db, box.keyId);
  return { resealed };
}
