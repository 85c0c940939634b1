import { ApiError } from "../plugins/app/api-error.js";
import type { TaskPosition } from "../store/task-query.js";
import { decodePageToken, encodePageToken } from "./page-token.js";

/**
 * Task-list page tokens: the keyset token (`k:<id>`, see page-token.ts) when sorted by id, and `o:<rows>`
 * for other sorts. Opaque to clients; a token of another shape is a 400.
 */
export function encodeTaskPosition(p: TaskPosition): string | null {
  if (p === null) return null;
  return "afterId" in p ? encodePageToken(p.afterId) : Buffer.from(`o:${p.offset}`).toString("base64url");
}

export function decodeTaskPosition(token: string | undefined, sortedById: boolean): TaskPosition {
  if (token === undefined || token === "") return null;
  if (sortedById) return { afterId: decodePageToken(token)! };
  const m = /^o:([1-9][0-9]{0,8})$/.exec(Buffer.from(token, "base64url").toString("utf8"));
  if (!m) throw new ApiError(400, "INVALID_ARGUMENT", "querystring/pageToken is not a token this API returned");
  return { offset: Number(m[1]) };
}
