import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { LOCALES, messageAt, messageKeys, messages } from "../src/locales.js";
import { TASK_STATUS_ORDER, WaitingCauseType, TaskType, Role } from "../src/status.js";

const localesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../locales");

function readLocale(file: string): unknown {
  return JSON.parse(readFileSync(path.join(localesDir, file), "utf8"));
}

describe("locales", () => {
  it("has exactly one file per supported locale", () => {
    const files = readdirSync(localesDir)
      .filter((f) => f.endsWith(".json"))
      .sort();
    expect(files).toEqual(LOCALES.map((l) => `${l}.json`).sort());
  });

  it("every locale file has the same sorted key set as en.json", () => {
    const reference = messageKeys(readLocale("en.json"));
    for (const locale of LOCALES) {
      const keys = messageKeys(readLocale(`${locale}.json`));
      const missing = reference.filter((k) => !keys.includes(k));
      const extra = keys.filter((k) => !reference.includes(k));
      expect({ locale, missing, extra }).toEqual({ locale, missing: [], extra: [] });
      expect(keys).toEqual(reference);
    }
  });

  it("has no empty messages", () => {
    for (const locale of LOCALES) {
      for (const key of messageKeys(messages[locale])) {
        const value = messageAt(messages[locale], key);
        expect(typeof value === "string" && value.trim() !== "", `${locale}: ${key}`).toBe(true);
      }
    }
  });

  it("names every status, type, waiting cause and role", () => {
    const keys = new Set(messageKeys(messages.en));
    const wanted = [
      ...TASK_STATUS_ORDER.flatMap((s) => [`taskStatus.${s}`, `taskStatusHint.${s}`]),
      ...Object.values(TaskType).map((t) => `taskType.${t}`),
      ...Object.values(WaitingCauseType).flatMap((w) => [`waitingCause.${w}`, `waitingCauseDetail.${w}`, `waitingCauseExplain.${w}`]),
      ...Object.values(Role).map((r) => `role.${r}`),
    ];
    // A cause added by one feature may be named under that feature's namespace (e.g. gates.waitingCause.PAUSED).
    const named = (k: string) =>
      keys.has(k) || [...keys].some((x) => x.endsWith(`.${k}`) && x.split(".").length === k.split(".").length + 1);
    expect(wanted.filter((k) => !named(k))).toEqual([]);
  });

  it("reads AVAILABLE as the agreed words", () => {
    expect(LOCALES.map((l) => messages[l].taskStatus.AVAILABLE)).toEqual(["Available", "就绪", "実行可能", "Disponible"]);
  });

  it("keeps {placeholders} identical across locales", () => {
    const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const key of messageKeys(messages.en)) {
      const get = (l: (typeof LOCALES)[number]) => messageAt(messages[l], key) as string;
      const ref = [...new Set(placeholders(get("en")))];
      for (const locale of LOCALES) {
        expect([...new Set(placeholders(get(locale)))], `${locale}: ${key}`).toEqual(ref);
      }
    }
  });
});
