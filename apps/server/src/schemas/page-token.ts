import { ApiError } from "../plugins/app/api-error.js";

/**
 * Page tokens are opaque to clients: base64url of the keyset position (an id). Decoding checks the shape,
 * so a forged or truncated token is a 400 rather than a SQL error.
 */
export function encodePageToken(id: string): string {
  return Buffer.from(`k:${id}`).toString("base64url");
}

export function decodePageToken(token: string | undefined): string | null {
  if (token === undefined || token === "") return null;
  const raw = Buffer.from(token, "base64url").toString("utf8");
  const m = /^k:([1-9][0-9]{0,17})$/.exec(raw);
  if (!m) throw new ApiError(400, "INVALID_ARGUMENT", "querystring/pageToken is not a token this API returned");
  return m[1]!;
}

export function nextToken<T extends { id: string }>(items: T[], more: boolean): string | null {
  const last = items[items.length - 1];
  return more && last ? encodePageToken(last.id) : null;
}
