import { DEFAULT_LOCALE, isLocale, LOCALES, messages, type Locale, type MessageSchema } from "@runway/shared/locales";
import { createI18n } from "vue-i18n";

export const LOCALE_STORAGE_KEY = "runway.locale";

const dateTimeFormat = {
  short: { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" },
  long: { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" },
  time: { hour: "2-digit", minute: "2-digit" },
  dayTime: { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" },
  timeSeconds: { hour: "2-digit", minute: "2-digit", second: "2-digit" },
} satisfies Record<string, Intl.DateTimeFormatOptions>;

const numberFormat = {
  integer: { maximumFractionDigits: 0 },
  percent: { style: "percent", maximumFractionDigits: 0 },
} satisfies Record<string, Intl.NumberFormatOptions>;

/** The saved choice, else the browser's language when we have it, else English. */
export function initialLocale(storage: Pick<Storage, "getItem"> | undefined = globalThis.localStorage): Locale {
  const saved = storage?.getItem(LOCALE_STORAGE_KEY);
  if (isLocale(saved)) return saved;
  const browser = globalThis.navigator?.language?.slice(0, 2).toLowerCase();
  return isLocale(browser) ? browser : DEFAULT_LOCALE;
}

export function createAppI18n(locale: Locale = initialLocale()) {
  return createI18n<[MessageSchema], Locale, false>({
    legacy: false,
    globalInjection: true,
    locale,
    fallbackLocale: DEFAULT_LOCALE,
    messages,
    datetimeFormats: Object.fromEntries(LOCALES.map((l) => [l, dateTimeFormat])) as Record<Locale, typeof dateTimeFormat>,
    numberFormats: Object.fromEntries(LOCALES.map((l) => [l, numberFormat])) as Record<Locale, typeof numberFormat>,
    missingWarn: false,
    fallbackWarn: false,
  });
}

export type AppI18n = ReturnType<typeof createAppI18n>;

/**
 * Every date format in every language shows times in `timeZone` (the browser's or UTC); the full forms
 * (`short`, `long`: tooltips, the drawer, scheduling) also name the zone, so no time is ambiguous.
 */
export function applyTimeZone(target: AppI18n, timeZone: string): void {
  const named = new Set(["short", "long"]);
  const formats = Object.fromEntries(
    Object.entries(dateTimeFormat).map(([k, f]) => [k, { ...f, timeZone, ...(named.has(k) ? { timeZoneName: "short" as const } : {}) }]),
  ) as unknown as typeof dateTimeFormat;
  for (const l of LOCALES) target.global.setDateTimeFormat(l, formats);
}

/** The app's one instance; tests create their own with createAppI18n. */
export const i18n = createAppI18n();
