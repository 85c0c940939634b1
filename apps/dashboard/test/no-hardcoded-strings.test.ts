import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { NodeTypes, parse, type RootNode, type TemplateChildNode } from "@vue/compiler-dom";
import { describe, expect, it } from "vitest";

const srcDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src");
const vueFiles = (dir: string): string[] =>
  readdirSync(dir).flatMap((n) => {
    const full = path.join(dir, n);
    return statSync(full).isDirectory() ? vueFiles(full) : n.endsWith(".vue") ? [full] : [];
  });

/** Attributes a person reads. */
const READ_ATTRS = new Set(["title", "placeholder", "label", "aria-label", "alt", "description", "tab", "positive-text", "negative-text"]);
const WORDS = /\p{L}{2,}/u;

function templateOf(source: string): RootNode | null {
  const m = /<template>([\s\S]*)<\/template>\s*(?:<style|$)/.exec(source);
  return m ? parse(m[1]!) : null;
}

function findLiterals(node: RootNode | TemplateChildNode, out: string[]) {
  if (node.type === NodeTypes.TEXT && WORDS.test(node.content)) out.push(`text "${node.content.trim()}"`);
  if (node.type === NodeTypes.ELEMENT) {
    for (const p of node.props) {
      if (p.type === NodeTypes.ATTRIBUTE && READ_ATTRS.has(p.name) && p.value && WORDS.test(p.value.content)) {
        out.push(`${p.name}="${p.value.content}"`);
      }
    }
  }
  if ("children" in node) for (const c of node.children as TemplateChildNode[]) findLiterals(c, out);
}

describe("components", () => {
  it("have no hard-coded user-facing text (everything goes through vue-i18n)", () => {
    const found: string[] = [];
    for (const file of vueFiles(srcDir)) {
      const root = templateOf(readFileSync(file, "utf8"));
      if (!root) continue;
      const out: string[] = [];
      findLiterals(root, out);
      found.push(...out.map((o) => `${path.relative(srcDir, file)}: ${o}`));
    }
    expect(found).toEqual([]);
  });

  it("the checker catches a literal", () => {
    const out: string[] = [];
    findLiterals(parse('<div><span title="Hello there">Run now</span>{{ $t("a") }}</div>'), out);
    expect(out).toEqual(['title="Hello there"', 'text "Run now"']);
  });
});
