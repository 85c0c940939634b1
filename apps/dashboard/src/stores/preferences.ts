import { isLocale, type Locale } from "@runway/shared/locales";
import { defineStore } from "pinia";
import { ref } from "vue";
import { i18n, LOCALE_STORAGE_KEY } from "@/i18n";

/** The chosen language: applied to vue-i18n (texts, dates, numbers), naive-ui and <html lang>, and kept. */
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
    try {
      globalThis.localStorage?.setItem(LOCALE_STORAGE_KEY, l);
    } catch {
      // storage may be unavailable (private mode): the choice then lasts for this page only
    }
  }

  apply(locale.value);
  return { locale, setLocale };
});
