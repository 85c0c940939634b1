import { isLocale, type Locale } from "@runway/shared/locales";
import { defineStore } from "pinia";
import { computed, ref, watch } from "vue";
import { applyTimeZone, i18n, LOCALE_STORAGE_KEY } from "@/i18n";
import { THEME_MODES, themeVars, type ThemeMode } from "@/lib/theme";

export const THEME_STORAGE_KEY = "runway.theme";
export const TIME_ZONE_STORAGE_KEY = "runway.timeZone";
/** Whether the dark theme is on, outside any pinia (naive-ui's discrete dialogs and messages read it). */
export const darkThemeOn = ref(false);

/** How times are shown: in the browser's time zone or in UTC. */
export type TimeZoneMode = "local" | "utc";

function load(key: string): string | null {
  try {
    return globalThis.localStorage?.getItem(key) ?? null;
  } catch {
    return null;
  }
}
function save(key: string, value: string) {
  try {
    globalThis.localStorage?.setItem(key, value);
  } catch {
    // storage may be unavailable (private mode): the choice then lasts for this page only
  }
}

/**
 * The chosen language (applied to vue-i18n, naive-ui and <html lang>), theme (light, dark, or the system's,
 * followed live) and time zone for times; all kept across reloads.
 */
export const usePreferencesStore = defineStore("preferences", () => {
  const locale = ref<Locale>(i18n.global.locale.value);

  function apply(l: Locale) {
    i18n.global.locale.value = l;
    if (typeof document !== "undefined") document.documentElement.lang = l;
  }

  function setLocale(l: string) {
    if (!isLocale(l)) return;
    locale.value = l;
    apply(l);
    save(LOCALE_STORAGE_KEY, l);
  }

  const savedTheme = load(THEME_STORAGE_KEY);
  const themeMode = ref<ThemeMode>(THEME_MODES.includes(savedTheme as ThemeMode) ? (savedTheme as ThemeMode) : "system");
  const media = globalThis.matchMedia?.("(prefers-color-scheme: dark)");
  const systemDark = ref(media?.matches ?? false);
  media?.addEventListener?.("change", (e) => (systemDark.value = e.matches));
  const dark = computed(() => (themeMode.value === "system" ? systemDark.value : themeMode.value === "dark"));

  function applyTheme() {
    darkThemeOn.value = dark.value;
    if (typeof document === "undefined") return;
    const root = document.documentElement;
    for (const [k, v] of Object.entries(themeVars(dark.value))) root.style.setProperty(k, v);
    root.dataset.theme = dark.value ? "dark" : "light";
    root.style.colorScheme = dark.value ? "dark" : "light";
  }
  function setThemeMode(m: ThemeMode) {
    themeMode.value = m;
    save(THEME_STORAGE_KEY, m);
    applyTheme();
  }
  media?.addEventListener?.("change", applyTheme);

  const timeZoneMode = ref<TimeZoneMode>(load(TIME_ZONE_STORAGE_KEY) === "utc" ? "utc" : "local");
  /** The IANA zone times are shown in. */
  const timeZone = computed(() => (timeZoneMode.value === "utc" ? "UTC" : Intl.DateTimeFormat().resolvedOptions().timeZone));
  function setTimeZoneMode(m: TimeZoneMode) {
    timeZoneMode.value = m;
    save(TIME_ZONE_STORAGE_KEY, m);
  }

  watch(timeZone, (tz) => applyTimeZone(i18n, tz), { immediate: true, flush: "sync" });
  apply(locale.value);
  applyTheme();
  return { locale, setLocale, themeMode, dark, setThemeMode, timeZoneMode, timeZone, setTimeZoneMode };
});
