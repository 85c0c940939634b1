import { Type } from "typebox";
import { Nullable } from "./common.js";

/** Keyset paging: every list that pages takes these query fields and answers with `nextPageToken`. */
export const PAGE_SIZE_MAX = 1000;
export const PageQuery = (defaultSize: number) => ({
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: PAGE_SIZE_MAX, default: defaultSize, description: `1–${PAGE_SIZE_MAX}` })),
  pageToken: Type.Optional(Type.String({ maxLength: 200, description: "nextPageToken of the previous page" })),
});
export const NextPageToken = Nullable(Type.String({ description: "Pass as pageToken for the next page; null on the last page" }));
