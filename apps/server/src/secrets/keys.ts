import { promises as fs } from "node:fs";
import path from "node:path";
import { generateKey, parseKey, SecretBox, SecretKeyError } from "./secret-box.js";

export const KEY_FILE = "secret.key";
export const PREVIOUS_KEY_FILE = "secret.key.previous";

export interface KeySettings {
  /** RUNWAY_SECRET_KEY: base64 of 32 bytes. */
  secretKey: string | undefined;
  /** RUNWAY_SECRET_KEY_PREVIOUS: the key being rotated away from (opens, never seals). */
  secretKeyPrevious: string | undefined;
  /** Where the key file lives when RUNWAY_SECRET_KEY is not set. */
  dataDir: string;
}

export interface LoadedKeys {
  box: SecretBox;
  /** The key file, when the key came from one (rotate-key replaces it). */
  file: string | null;
}

/**
 * Creates the key file once, atomically: written in full under a temporary name, then linked into place
 * (link fails if the name exists), so replicas starting together on one host all read the same key and
 * never a half-written file.
 */
async function createKeyFile(file: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await fs.writeFile(tmp, generateKey().toString("base64") + "\n", { mode: 0o600, flag: "wx" });
  try {
    await fs.link(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  } finally {
    await fs.unlink(tmp).catch(() => undefined);
  }
}

async function readKeyFile(file: string): Promise<Buffer | null> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  const st = await fs.stat(file);
  if ((st.mode & 0o077) !== 0)
    throw new SecretKeyError(`${file} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  return parseKey(text, file);
}

/**
 * The secret key: RUNWAY_SECRET_KEY when set, otherwise `<data dir>/secret.key` (created with mode 0600 on
 * first start). Every replica must hold the same key; startup checks it against the database
 * (secrets/startup.ts). With several hosts, set RUNWAY_SECRET_KEY on each.
 */
export async function loadKeys(s: KeySettings): Promise<LoadedKeys> {
  if (s.secretKey) {
    const previous = s.secretKeyPrevious ? [parseKey(s.secretKeyPrevious, "RUNWAY_SECRET_KEY_PREVIOUS")] : [];
    return { box: new SecretBox(parseKey(s.secretKey, "RUNWAY_SECRET_KEY"), previous), file: null };
  }
  if (s.secretKeyPrevious) throw new SecretKeyError("RUNWAY_SECRET_KEY_PREVIOUS is set without RUNWAY_SECRET_KEY");
  const file = path.join(s.dataDir, KEY_FILE);
  let key = await readKeyFile(file);
  if (!key) {
    await createKeyFile(file);
    key = (await readKeyFile(file))!;
  }
  const previous = await readKeyFile(path.join(s.dataDir, PREVIOUS_KEY_FILE));
  return { box: new SecretBox(key, previous ? [previous] : []), file };
}

/** rotate-key with a key file: the new key becomes secret.key, the old one secret.key.previous. */
export async function replaceKeyFile(file: string, newKey: Buffer): Promise<void> {
  const previous = path.join(path.dirname(file), PREVIOUS_KEY_FILE);
  await fs.copyFile(file, previous);
  await fs.chmod(previous, 0o600);
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, newKey.toString("base64") + "\n", { mode: 0o600 });
  await fs.rename(tmp, file);
}

export async function removePreviousKeyFile(file: string): Promise<void> {
  await fs.unlink(path.join(path.dirname(file), PREVIOUS_KEY_FILE)).catch(() => undefined);
}
