import type { DataTableColumns } from "naive-ui";

/**
 * A data table's least width, its columns' widths (or least widths) added up: given as naive-ui's `scroll-x`, or
 * as the table's `min-width` inside a `table-scroll` box, a narrower screen (a phone) scrolls the table sideways
 * instead of squeezing its text columns to a letter a line. The box is the better of the two where a table's
 * rows may hold nothing a keyboard can reach (an empty list, a viewer's rows without buttons): naive-ui's own
 * scroll area then cannot be focused, and a keyboard could not scroll it. Every column of such a table names a
 * width or a least width.
 */
export function leastWidth<T>(columns: DataTableColumns<T>): number {
  return columns.reduce((sum, c) => {
    const { width, minWidth } = c as { width?: number | string; minWidth?: number | string };
    return sum + Number(width ?? minWidth ?? 0);
  }, 0);
}
