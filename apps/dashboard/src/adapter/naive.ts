/**
 * The only place wiring naive-ui's message and dialog APIs, so stores and views can report and confirm
 * without being inside <n-message-provider>. Locale follows the i18n locale.
 */
import { createDiscreteApi, darkTheme, dateEnUS, dateEsAR, dateJaJP, dateZhCN, enUS, esAR, jaJP, zhCN } from "naive-ui";
import type { NDateLocale, NLocale } from "naive-ui";
import { computed, h, ref, watch } from "vue";
import type { Locale } from "@runway/shared/locales";
import { i18n } from "@/i18n";
import { darkThemeOn } from "@/stores/preferences";

/**
 * naive-ui's locale less its default text-field placeholder ("Please Input", "Ingrese datos por favor"): a field
 * without a placeholder of ours is named by its label, and the default read as filler in every language.
 */
const plain = (l: NLocale): NLocale => ({ ...l, Input: { ...l.Input, placeholder: "" } });

export const NAIVE_LOCALES: Record<Locale, { locale: NLocale; dateLocale: NDateLocale }> = {
  en: { locale: plain(enUS), dateLocale: dateEnUS },
  zh: { locale: plain(zhCN), dateLocale: dateZhCN },
  ja: { locale: plain(jaJP), dateLocale: dateJaJP },
  es: { locale: plain(esAR), dateLocale: dateEsAR },
};

export const naiveLocale = computed(() => NAIVE_LOCALES[i18n.global.locale.value]);

const { message, dialog } = createDiscreteApi(["message", "dialog"], {
  // Dialogs and messages follow the theme too.
  configProviderProps: computed(() => ({ ...naiveLocale.value, theme: darkThemeOn.value ? darkTheme : null })),
});

export function notifySuccess(text: string): void {
  message.success(text);
}

export function notifyError(text: string): void {
  message.error(text, { duration: 6000, closable: true });
}

export function notifyInfo(text: string): void {
  message.info(text);
}

const buttonProps = (entered: boolean) => ({ "data-testid": "confirm-action", "data-entered": String(entered) }) as never;

/**
 * A warning dialog, one paragraph per line; resolves true when the user confirms.
 *
 * `data-entered` marks the dialog (content and confirm button) once its opening animation has ended and
 * until it is answered: the dialog scales in from the pointer, and a click while it still moves can
 * press on the button and release beside it, which the browser counts as no click at all. Browser
 * tests wait for the mark before they press.
 */
export function confirmDialog(p: { title: string; lines: string[]; positiveText: string; negativeText: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const entered = ref(false);
    const answer = (ok: boolean) => {
      entered.value = false;
      resolve(ok);
    };
    const d = dialog.warning({
      title: p.title,
      content: () =>
        h(
          "div",
          { "data-testid": "confirm-dialog", "data-entered": String(entered.value) },
          p.lines.map((l) => h("p", { "data-testid": "confirm-line" }, l)),
        ),
      positiveButtonProps: buttonProps(false),
      positiveText: p.positiveText,
      negativeText: p.negativeText,
      onAfterEnter: () => (entered.value = true),
      onPositiveClick: () => answer(true),
      onNegativeClick: () => answer(false),
      onClose: () => answer(false),
      onMaskClick: () => answer(false),
    });
    // The dialog's options are reactive: the button carries the mark as it changes.
    watch(entered, (on) => (d.positiveButtonProps = buttonProps(on)));
  });
}
