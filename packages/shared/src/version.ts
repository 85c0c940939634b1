/**
 * Schema versions compare part by part. Parts are separated by ".", "-" or "_". Two numeric parts compare
 * by value ("0003" < "0010", "1.2.9" < "1.2.10"); a numeric part sorts before a non-numeric one; two
 * non-numeric parts compare as strings; a version that is a prefix of another sorts first.
 *
 * `versionSortKey` encodes the same order as a string that sorts byte-wise (PostgreSQL COLLATE "C"), so
 * the database can find the nearest smaller version through an index.
 */

export const SCHEMA_VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

function parts(version: string): string[] {
  return version.split(/[._-]/);
}

const NUMERIC = /^[0-9]+$/;

function comparePart(a: string, b: string): number {
  const an = NUMERIC.test(a);
  const bn = NUMERIC.test(b);
  if (an && bn) {
    const as = a.replace(/^0+(?=.)/, "");
    const bs = b.replace(/^0+(?=.)/, "");
    if (as.length !== bs.length) return as.length < bs.length ? -1 : 1;
    return as < bs ? -1 : as > bs ? 1 : 0;
  }
  if (an !== bn) return an ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareVersions(a: string, b: string): number {
  const pa = parts(a);
  const pb = parts(b);
  const n = Math.min(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const c = comparePart(pa[i]!, pb[i]!);
    if (c !== 0) return c;
  }
  return pa.length === pb.length ? 0 : pa.length < pb.length ? -1 : 1;
}

/**
 * Byte-order sort key: each part becomes "N" + 3-digit length + digits (leading zeros stripped) or
 * "S" + text, joined by " " (which sorts below every character a part may contain).
 */
export function versionSortKey(version: string): string {
  return parts(version)
    .map((p) => {
      if (NUMERIC.test(p)) {
        const digits = p.replace(/^0+(?=.)/, "");
        return "N" + String(digits.length).padStart(3, "0") + digits;
      }
      return "S" + p;
    })
    .join(" ");
}
