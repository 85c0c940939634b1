import type { DataTableColumns } from "naive-ui";

/**
 * A data table's least width, its columns' widths (or least widths) added up: given as naive-ui's `scroll-x`,
 * a narrower screen (a phone) scrolls the table sideways instead of squeezing its text columns to a letter a
 * line. Every column of such a table names a width or a least width.
 */
export function leastWidth<T>(columns: DataTableColumns<T>): number {
  return columns.reduce((sum, c) => {
    const { width, minWidth } = c as { width?: number | string; minWidth?: number | string };
    return sum + Number(width ?? minWidth ?? 0);
  }, 0);
}
