/**
 * Shapes of the REST API: the server's own TypeBox schemas (`@runway/shared/schemas`), as types only, so
 * none of typebox reaches the bundle.
 */
export type * from "@runway/shared/schemas";

/** One page of a list, as the dashboard's api functions hand it on (each list names its items its own way). */
export interface Page<T> {
  items: T[];
  nextPageToken: string | null;
}
