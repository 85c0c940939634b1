/**
 * Pure checks applied to every request at the edge (plugins/external/validation.ts), so no route can
 * forget them.
 */

/**
 * Where the first string (or object key) that PostgreSQL cannot store faithfully sits, e.g.
 * "body/title": a NUL character (text columns refuse it, so it would surface as a SQL error) or an
 * unpaired UTF-16 surrogate (the driver would store U+FFFD instead of what was sent, and jsonb refuses
 * the `\ud800` escape outright, which is how an audit entry got lost). Undefined when all is well.
 * Walks iteratively: a deeply nested body must not blow the stack.
 */
export function findBadText(root: unknown, rootPath: string): string | undefined {
  const stack: [unknown, string][] = [[root, rootPath]];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (typeof value === "string") {
      if (badText(value)) return path;
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => stack.push([v, `${path}/${i}`]));
    } else if (value !== null && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) {
        if (badText(k)) return `${path} (a field name)`;
        stack.push([v, `${path}/${k}`]);
      }
    }
  }
  return undefined;
}

// Without the u flag a regex sees UTF-16 code units: a high surrogate not followed by a low one, or a low
// one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const badText = (s: string): boolean => s.includes("\u0000") || LONE_SURROGATE.test(s);

/** `s` with NUL and unpaired surrogates replaced by U+FFFD: for recording what a refused request named. */
export const storableText = (s: string): string =>
  s.replaceAll("\u0000", "\uFFFD").replace(new RegExp(LONE_SURROGATE.source, "g"), "\uFFFD");

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|([+-])(\d{2}):(\d{2}))$/;
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const leap = (y: number) => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);

/**
 * RFC 3339 date-time, strictly: `T` separator, seconds present, an explicit offset, a real calendar day,
 * and no leap second. A leap second (`23:59:60`) is refused rather than normalised: `new Date()` cannot
 * represent it (it yields Invalid Date, which once made a run-at time far in the future run at once), and
 * no one needs to schedule a rollout on one.
 */
export function isStrictDateTime(s: string): boolean {
  const m = DATE_TIME.exec(s);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1) return false;
  if (day > (month === 2 && leap(year) ? 29 : DAYS[month - 1]!)) return false;
  if (hour > 23 || minute > 59 || second > 59) return false;
  if (m[9] !== undefined && (Number(m[10]) > 23 || Number(m[11]) > 59)) return false;
  // The offset can push a valid local time outside what a Date (and PostgreSQL) can hold.
  return Number.isFinite(Date.parse(s));
}
