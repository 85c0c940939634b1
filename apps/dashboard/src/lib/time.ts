/** Relative time and durations in the user's locale (Intl), with no library state. */

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

/** Building an Intl formatter costs far more than using one; a table row asks on every render. */
const formatters = new Map<string, Intl.RelativeTimeFormat>();
function formatterFor(locale: string): Intl.RelativeTimeFormat {
  let f = formatters.get(locale);
  if (!f) formatters.set(locale, (f = new Intl.RelativeTimeFormat(locale, { numeric: "auto" })));
  return f;
}

/** "in 5 minutes", "3 hours ago", "hace 2 días", "5 分钟后" … */
export function relativeTime(target: Date | string, now: Date, locale: string): string {
  const t = typeof target === "string" ? new Date(target) : target;
  const seconds = Math.round((t.getTime() - now.getTime()) / 1000);
  const rtf = formatterFor(locale);
  const abs = Math.abs(seconds);
  for (const [unit, size] of UNITS) {
    if (abs >= size || unit === "second") {
      // Below 45 seconds "now" reads better than counting seconds.
      if (unit === "second" && abs < 45) return rtf.format(0, "second");
      return rtf.format(Math.trunc(seconds / size), unit);
    }
  }
  return rtf.format(0, "second");
}

export interface DurationParts {
  key: "duration.lessThanSecond" | "duration.seconds" | "duration.minutes" | "duration.hours";
  params: { h?: number; m?: number; s?: number };
}

/** Splits a duration for the `duration.*` messages. */
export function durationParts(ms: number): DurationParts {
  const total = Math.max(0, Math.floor(ms / 1000));
  if (ms < 1000) return { key: "duration.lessThanSecond", params: {} };
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return { key: "duration.hours", params: { h, m } };
  if (m > 0) return { key: "duration.minutes", params: { m, s } };
  return { key: "duration.seconds", params: { s } };
}

export function runDurationMs(startedAt: string | null | undefined, finishedAt: string | null | undefined, now: Date): number | null {
  if (!startedAt) return null;
  const end = finishedAt ? new Date(finishedAt).getTime() : now.getTime();
  return end - new Date(startedAt).getTime();
}
