import { LOCALES, messageAt, messageKeys, messages, type Locale } from "@runway/shared/locales";
import { describe, expect, it } from "vitest";
import { createAppI18n } from "@/i18n";

/**
 * Every message, compiled by vue-i18n as the dashboard compiles it. Its message format gives `{`, `}`, `@` and `|`
 * a meaning (placeholders, linked messages, plural forms): a connection URL's `user@host` in a placeholder was a
 * linked message the compiler refused, so the admin's instances page threw when it rendered. A character meant
 * as text is written as a literal, `{'@'}`.
 */

const lookup = (locale: Locale, key: string) => messageAt(messages[locale], key) as string;

/** The text a message should read as: each placeholder as `<name>`, each literal as its text. */
const expected = (source: string) => source.replace(/\{'([^']*)'\}/g, "$1").replace(/\{(\w+)\}/g, "<$1>");

describe("translation messages", () => {
  it("every message compiles and reads as its text, with its placeholders filled", () => {
    const problems: string[] = [];
    for (const locale of LOCALES) {
      const { t } = createAppI18n(locale).global;
      const translate = t as unknown as (key: string, named: Record<string, unknown>, plural?: number) => string;
      for (const key of messageKeys(messages.en)) {
        const source = lookup(locale, key);
        const named = Object.fromEntries([...source.matchAll(/\{(\w+)\}/g)].map((m) => [m[1], `<${m[1]}>`]));
        try {
          // A plural message's forms, each chosen in turn (vue-i18n picks a form by the number it is given, and
          // writes that number into the named values it was handed: a fresh copy each time).
          const forms = source.split(" | ");
          forms.forEach((form, i) => {
            const text = forms.length > 1 ? translate(key, { ...named }, i === 0 ? 1 : 2) : translate(key, { ...named });
            if (text !== expected(form)) problems.push(`${locale}: ${key} reads ${JSON.stringify(text)}`);
          });
        } catch (e) {
          problems.push(`${locale}: ${key} does not compile (${String(e)})`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("finds a message that does not compile (the check works)", () => {
    const i18n = createAppI18n("en");
    i18n.global.mergeLocaleMessage("en", { probe: "postgres://user:password@host:5432/postgres" } as never);
    expect(() => (i18n.global.t as unknown as (k: string) => string)("probe")).toThrow();
  });
});
