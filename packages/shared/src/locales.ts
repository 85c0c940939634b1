/**
 * The dashboard's (and the server's) translations. `locales/*.json` at the repository top level are the
 * one source; this module only exposes them. English is the reference: every other locale has its keys
 * (packages/shared/test/locales.test.ts checks that).
 */
import en from "../../../locales/en.json" with { type: "json" };
import es from "../../../locales/es.json" with { type: "json" };
import ja from "../../../locales/ja.json" with { type: "json" };
import zh from "../../../locales/zh.json" with { type: "json" };

export type MessageSchema = typeof en;

export const LOCALES = ["en", "zh", "ja", "es"] as const;
export type Locale = (typeof LOCALES)[number];

export const DEFAULT_LOCALE: Locale = "en";

export const messages: Record<Locale, MessageSchema> = { en, zh, ja, es };

export function isLocale(value: unknown): value is Locale {
  return typeof value === "string" && (LOCALES as readonly string[]).includes(value);
}

/** Dotted paths of every leaf message, sorted: "taskStatus.AVAILABLE", … */
export function messageKeys(tree: unknown, prefix = ""): string[] {
  if (tree === null || typeof tree !== "object") return [prefix];
  return Object.entries(tree as Record<string, unknown>)
    .flatMap(([key, value]) => messageKeys(value, prefix ? `${prefix}.${key}` : key))
    .sort();
}

/** The message at a dotted path of `messageKeys` ("taskStatus.AVAILABLE"); undefined where there is none. */
export function messageAt(tree: unknown, key: string): unknown {
  return key.split(".").reduce<unknown>((node, k) => (node as Record<string, unknown> | undefined)?.[k], tree);
}
