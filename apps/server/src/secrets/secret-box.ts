import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

/**
 * Authenticated encryption of secrets at rest (instance connection URLs): AES-256-GCM with a random
 * 96-bit nonce per value. A sealed value names the key that sealed it, so during a key rotation a
 * replica holding both keys opens either:
 *
 *     rw1:<key id, 16 hex>:<base64url(nonce ‖ tag ‖ ciphertext)>
 *
 * Values without the prefix are plaintext written before encryption existed (or by a replica of the
 * previous release during an upgrade); `open` returns them as they are and startup encrypts them.
 */
const PREFIX = "rw1";
const NONCE = 12;
const TAG = 16;
/** Binds ciphertexts to this use: a value sealed elsewhere with the same key does not open here. */
const AAD = Buffer.from("runway secret v1");
export const KEY_BYTES = 32;

/** The key id: a hash of the key, never the key; the same key gives the same id on every replica. */
export const keyIdOf = (key: Buffer): string => createHash("sha256").update("runway key id\0").update(key).digest("hex").slice(0, 16);

export class SecretKeyError extends Error {
  /** A stable code (also keeps the executor from retrying a run that no retry can fix). */
  readonly code = "SECRET_KEY";
  constructor(message: string) {
    super(message);
    this.name = "SecretKeyError";
  }
}

/** Parses a base64 (or base64url) key of exactly 32 bytes; `what` names its source in the error. */
export function parseKey(raw: string, what: string): Buffer {
  const text = raw.trim();
  const key = Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64");
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text) || key.length !== KEY_BYTES) {
    throw new SecretKeyError(
      `${what} must be ${KEY_BYTES} random bytes in base64 (e.g. \`openssl rand -base64 32\`); got ${key.length} bytes`,
    );
  }
  return key;
}

export const generateKey = (): Buffer => randomBytes(KEY_BYTES);

export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  /** The key new values are sealed with. */
  readonly keyId: string;

  /** `primary` seals; `previous` keys only open (a rotation in progress). */
  constructor(primary: Buffer, previous: Buffer[] = []) {
    for (const k of [primary, ...previous]) {
      if (k.length !== KEY_BYTES) throw new SecretKeyError(`a secret key must be ${KEY_BYTES} bytes`);
      this.keys.set(keyIdOf(k), k);
    }
    this.keyId = keyIdOf(primary);
  }

  /** Every key id this box opens, the sealing one first. */
  get keyIds(): string[] {
    return [this.keyId, ...[...this.keys.keys()].filter((k) => k !== this.keyId)];
  }

  /** A box that seals with `key` and still opens everything this one opens (key rotation). */
  withPrimary(key: Buffer): SecretBox {
    return new SecretBox(key, [...this.keys.values()]);
  }

  static isSealed(value: string): boolean {
    return value.startsWith(`${PREFIX}:`);
  }

  /** The id of the key that sealed `value`, or null for plaintext. */
  static keyIdOfValue(value: string): string | null {
    return SecretBox.isSealed(value) ? (value.split(":")[1] ?? null) : null;
  }

  seal(plain: string, keyId: string = this.keyId): string {
    const key = this.keys.get(keyId);
    if (!key) throw new SecretKeyError(`no secret key with id ${keyId}`);
    const nonce = randomBytes(NONCE);
    const cipher = createCipheriv("aes-256-gcm", key, nonce);
    cipher.setAAD(AAD);
    const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return `${PREFIX}:${keyId}:${Buffer.concat([nonce, cipher.getAuthTag(), body]).toString("base64url")}`;
  }

  /** Opens a sealed value (plaintext passes through). Throws SecretKeyError without naming the value. */
  open(value: string): string {
    if (!SecretBox.isSealed(value)) return value;
    const [, keyId = "", data = ""] = value.split(":");
    const key = this.keys.get(keyId);
    if (!key) throw new SecretKeyError(`a stored secret is sealed with key ${keyId}, which this replica does not have (RUNWAY_SECRET_KEY)`);
    const raw = Buffer.from(data, "base64url");
    if (raw.length < NONCE + TAG) throw new SecretKeyError(`a stored secret sealed with key ${keyId} is truncated`);
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, NONCE));
      decipher.setAAD(AAD);
      decipher.setAuthTag(raw.subarray(NONCE, NONCE + TAG));
      return Buffer.concat([decipher.update(raw.subarray(NONCE + TAG)), decipher.final()]).toString("utf8");
    } catch {
      throw new SecretKeyError(`a stored secret sealed with key ${keyId} does not open: wrong key or altered value`);
    }
  }
}

/** The executor's one way to a plaintext connection URL: `box` absent only where nothing is sealed. */
export function openSecret(value: string, box: SecretBox | undefined): string {
  if (box) return box.open(value);
  if (SecretBox.isSealed(value)) throw new SecretKeyError("a stored secret is sealed but no secret key was given to the executor");
  return value;
}
