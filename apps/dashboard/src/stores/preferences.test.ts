import { createPinia, setActivePinia } from "pinia";
import { beforeEach, describe, expect, it } from "vitest";
import { i18n, initialLocale, LOCALE_STORAGE_KEY } from "@/i18n";
import { usePreferencesStore } from "./preferences";

describe("preferences store", () => {
  beforeEach(() => {
    localStorage.clear();
    setActivePinia(createPinia());
    i18n.global.locale.value = "en";
  });

  it("switches the language of texts, dates and numbers, and keeps the choice", () => {
    const prefs = usePreferencesStore();
    prefs.setLocale("zh");
    expect(i18n.global.t("taskStatus.AVAILABLE")).toBe("就绪");
    expect(i18n.global.d(new Date("2030-01-02T03:04:05Z"), "short")).toMatch(/2030年/);
    expect(document.documentElement.lang).toBe("zh");
    expect(localStorage.getItem(LOCALE_STORAGE_KEY)).toBe("zh");
    expect(initialLocale()).toBe("zh");
    prefs.setLocale("es");
    expect(i18n.global.n(12345, "integer")).toBe("12.345");
  });

  it("ignores unknown languages", () => {
    const prefs = usePreferencesStore();
    prefs.setLocale("xx");
    expect(prefs.locale).toBe("en");
    expect(localStorage.getItem(LOCALE_STORAGE_KEY)).toBeNull();
  });

  it("starts from the saved choice", () => {
    expect(initialLocale({ getItem: () => "ja" })).toBe("ja");
    expect(initialLocale({ getItem: () => "klingon" })).toMatch(/^(en|zh|ja|es)$/);
  });
});

describe("theme and time zone preferences", () => {
  beforeEach(() => {
    localStorage.clear();
    setActivePinia(createPinia());
  });

  it("switches to dark, sets the status colors on <html>, and keeps the choice", () => {
    const prefs = usePreferencesStore();
    prefs.setThemeMode("dark");
    expect(prefs.dark).toBe(true);
    expect(document.documentElement.dataset.theme).toBe("dark");
    expect(document.documentElement.style.getPropertyValue("--status-PENDING")).toBe("#f0b24a");
    setActivePinia(createPinia());
    expect(usePreferencesStore().themeMode).toBe("dark");
    usePreferencesStore().setThemeMode("light");
    expect(document.documentElement.dataset.theme).toBe("light");
  });

  it("shows times in UTC when asked", () => {
    const prefs = usePreferencesStore();
    expect(prefs.timeZoneMode).toBe("local");
    prefs.setTimeZoneMode("utc");
    expect(prefs.timeZone).toBe("UTC");
    expect(i18n.global.d(new Date("2030-01-02T03:04:05Z"), "long")).toMatch(/03:04:05.*UTC/);
    setActivePinia(createPinia());
    expect(usePreferencesStore().timeZoneMode).toBe("utc");
  });
});
