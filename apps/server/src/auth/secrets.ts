import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { hash, verify } from "@node-rs/argon2";

/**
 * Passwords: argon2id with the library's defaults (19 MiB, 2 passes — OWASP's recommended minimum).
 * Session ids and API tokens are 256-bit random values, so a fast SHA-256 is enough to store them:
 * there is nothing to brute-force, and a leaked table grants nothing.
 */
export const hashPassword = (password: string): Promise<string> => hash(password);

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | undefined;
/** Spends as long as a real check, so timing does not tell whether a username exists. */
export async function verifyDummy(password: string): Promise<false> {
  dummy ??= hashPassword(randomSecret());
  await verifyPassword(await dummy, password);
  return false;
}

export const randomSecret = (bytes = 32): string => randomBytes(bytes).toString("base64url");
export const sha256 = (value: string): string => createHash("sha256").update(value).digest("hex");

export const TOKEN_PREFIX = "rwt_";
export const newApiToken = (): string => TOKEN_PREFIX + randomSecret();

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A password a person can type from the console once: 24 characters of base64url (144 bits). */
export const generatePassword = (): string => randomSecret(18);
