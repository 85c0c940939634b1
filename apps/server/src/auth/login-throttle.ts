import type { BackoffPolicy } from "../store/login-failures.js";

/**
 * Sign-in throttling (issue 11). Only failures count, and they count against the pair username+address:
 * ten wrong passwords for `admin` from one address lock out that address's attempts on `admin`, never
 * `admin` itself. A second key per address alone (five times as many failures) stops one address from
 * spraying many usernames. Locks grow exponentially with further failures; a success clears its pair.
 */
export const PAIR_LOCK = { baseLockMs: 30_000, maxLockMs: 15 * 60_000, forgetAfterMs: 60 * 60_000 } as const;

export interface ThrottleKey {
  key: string;
  policy: BackoffPolicy;
}

/** The keys of one attempt. `username` may be anything the client sent (it has not been validated yet). */
export function loginKeys(p: { username: unknown; address: string; failuresAllowed: number }): {
  pair?: ThrottleKey;
  address: ThrottleKey;
} {
  const address = { key: `addr:${p.address}`, policy: { ...PAIR_LOCK, free: p.failuresAllowed * 5 } };
  if (typeof p.username !== "string" || p.username === "" || p.username.length > 64) return { address };
  return { pair: { key: `user:${p.username}|addr:${p.address}`, policy: { ...PAIR_LOCK, free: p.failuresAllowed } }, address };
}
