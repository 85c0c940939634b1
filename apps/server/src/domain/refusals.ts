/**
 * At most this many refusals (tasks, files) are named in one error, and `refused` counts them all: a
 * 10,000-task rollout with one bad statement repeated stays readable.
 */
export const MAX_REFUSALS_REPORTED = 20;

/**
 * The message and details of an error that refuses each of `list` (a rollout's tasks, a release's files):
 * the first MAX_REFUSALS_REPORTED named, joined by "; ", and all of them counted.
 */
export function refusalSummary<T extends { message: string }>(
  list: readonly T[],
  key: "errors" | "files",
): { message: string; details: { refused: number } & Record<typeof key, T[]> } {
  const shown = list.slice(0, MAX_REFUSALS_REPORTED);
  const more = list.length > shown.length ? `; and ${list.length - shown.length} more` : "";
  return {
    message: shown.map((r) => r.message).join("; ") + more,
    details: { [key]: shown, refused: list.length } as { refused: number } & Record<typeof key, T[]>,
  };
}
