import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { messageKeys, messages } from "@runway/shared/locales";
import { describe, expect, it } from "vitest";

const srcDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return /\.(vue|ts)$/.test(name) && !name.endsWith(".test.ts") ? [full] : [];
  });
}

const files = sourceFiles(srcDir).map((f) => ({ file: path.relative(srcDir, f), text: readFileSync(f, "utf8") }));
const enKeys = new Set(messageKeys(messages.en));

/** Literal keys: t("a.b"), $t('a.b'), te("a.b"), keypath="a.b", and keys in confirmLines-style `key: "a.b"`. */
const LITERAL = [
  /(?:\$t|\bt|\bte)\(\s*["'`]([A-Za-z][\w.]*)["'`]/g,
  /keypath="([A-Za-z][\w.]*)"/g,
  /\bkey:\s*"((?:confirm|duration|outcome)\.[\w.]+)"/g,
];
/** Template keys: t(`taskStatus.${s}`) must name an existing family. */
const TEMPLATE = /(?:\$t|\bt|\bte)\(\s*`([A-Za-z][\w.]*)\$\{[^}]+\}([\w.]*)`/g;

describe("translation keys used in the dashboard", () => {
  it("finds keys to check (the scanner works)", () => {
    const count = files.reduce((n, f) => n + [...f.text.matchAll(LITERAL[0]!)].length, 0);
    expect(count).toBeGreaterThan(50);
  });

  it("every literal key exists in en.json", () => {
    const missing: string[] = [];
    for (const { file, text } of files) {
      for (const re of LITERAL) {
        for (const m of text.matchAll(re)) if (!enKeys.has(m[1]!)) missing.push(`${file}: ${m[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("every computed key names a family of keys in en.json", () => {
    const missing: string[] = [];
    for (const { file, text } of files) {
      for (const m of text.matchAll(TEMPLATE)) {
        const [prefix, suffix] = [m[1]!, m[2]!];
        if (![...enKeys].some((k) => k.startsWith(prefix) && k.endsWith(suffix))) missing.push(`${file}: ${m[0]}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
