import { LOCALES } from "@runway/shared/locales";
import { enUS, jaJP } from "naive-ui";
import { describe, expect, it } from "vitest";
import { NAIVE_LOCALES } from "./naive";

describe("naive-ui's locales", () => {
  it("leave a text field without a placeholder of ours empty, in every language, and keep the rest", () => {
    for (const l of LOCALES) expect(NAIVE_LOCALES[l].locale.Input.placeholder, l).toBe("");
    expect(NAIVE_LOCALES.en.locale.DatePicker).toEqual(enUS.DatePicker);
    expect(NAIVE_LOCALES.ja.locale.Select).toEqual(jaJP.Select);
  });
});
