/** CSV cells as RFC 4180 writes them, kept from being read as formulas by spreadsheets. */

/**
 * A cell a spreadsheet would evaluate (`=`, `+`, `@`, a tab or CR first, or `-` not starting a SQL comment)
 * gets a leading apostrophe: an exported statement or error message must never run as a formula
 * (OWASP "CSV injection"). SQL comments (`--`) stay as written.
 */
export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return "";
  let s = String(value);
  if (typeof value === "string" && /^([=+@\t\r]|-(?!-))/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const csvLine = (cells: readonly (string | number | null | undefined)[]) => `${cells.map(csvCell).join(",")}\r\n`;

/** A finished run's duration in ms; null while it has not both started and finished. */
export function runDurationMs(startedAt: string | null, finishedAt: string | null): number | null {
  if (!startedAt || !finishedAt) return null;
  return Math.max(0, Date.parse(finishedAt) - Date.parse(startedAt));
}
