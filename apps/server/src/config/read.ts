import { parseKey } from "../secrets/secret-box.js";
import { SETTINGS, type Setting } from "./settings.js";

/** One bad value: which variable, what was given, what is wanted. */
export interface ConfigProblem {
  env: string;
  given: string;
  message: string;
}

/** Every bad value at once, so an operator fixes them in one go; main prints it and exits non-zero. */
export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map((p) => `${p.env}=${JSON.stringify(p.given)}: ${p.message}`).join("\n"));
    this.name = "ConfigError";
  }
}

/** Why `raw` is not a valid value of `s`, or undefined when it is. */
export function checkValue(s: Setting, raw: string): string | undefined {
  const k = s.kind;
  switch (k.type) {
    case "int": {
      if (!/^-?[0-9]+$/.test(raw.trim())) return `must be a whole number${k.unit ? ` of ${k.unit}` : ""}`;
      const n = Number(raw);
      const range = k.max === undefined ? `≥ ${k.min}` : `between ${k.min} and ${k.max}`;
      if (n < k.min || (k.max !== undefined && n > k.max)) return `must be ${range}${k.unit ? ` (${k.unit})` : ""}`;
      return undefined;
    }
    case "enum":
      return k.values.includes(raw) ? undefined : `must be one of ${k.values.join(", ")}`;
    case "string":
      return raw.trim() === "" ? "must not be blank" : undefined;
    case "url": {
      try {
        const u = new URL(raw);
        return k.protocols.includes(u.protocol) ? undefined : `must be a ${k.protocols.map((p) => p.slice(0, -1)).join(" or ")}:// URL`;
      } catch {
        return "must be a URL such as postgres://user:password@host:5432/runway";
      }
    }
    case "base64-key": {
      // The secret box's own parser decides (one rule for keys); only the message is worded for the table.
      try {
        parseKey(raw, s.env);
        return undefined;
      } catch {
        const len = Buffer.from(raw.trim().replace(/-/g, "+").replace(/_/g, "/"), "base64").length;
        return `must be 32 random bytes in base64 (openssl rand -base64 32); got ${len} bytes`;
      }
    }
    case "trust-proxy": {
      if (["true", "false"].includes(raw) || /^[0-9]{1,2}$/.test(raw)) return undefined;
      const bad = raw
        .split(",")
        .map((x) => x.trim())
        .filter(
          (x) => x !== "" && !/^[0-9a-fA-F.:]+(\/[0-9]{1,3})?$/.test(x) && x !== "loopback" && x !== "linklocal" && x !== "uniquelocal",
        );
      return bad.length === 0 ? undefined : `must be true, a hop count, or addresses/CIDRs; not ${bad.join(", ")}`;
    }
  }
}

/** The values given for the server's settings, checked; throws ConfigError listing every bad one. */
export function readSettings(env: NodeJS.ProcessEnv): Map<string, string> {
  const problems: ConfigProblem[] = [];
  const given = new Map<string, string>();
  for (const s of SETTINGS) {
    const raw = env[s.env];
    // Empty means unset: `FOO= cmd` is how shells clear a variable.
    if (raw === undefined || raw === "" || s.commandOnly) continue;
    const why = checkValue(s, raw);
    if (why) problems.push({ env: s.env, given: s.secret ? "(hidden)" : raw, message: why });
    else given.set(s.env, raw);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return given;
}

/** `--help`: the settings as a plain-text table. */
export function renderHelp(): string {
  const lines = [
    "runway server — a rollout scheduler for database changes",
    "",
    "Usage: node dist/main.js [--no-demo] [--help]",
    "",
    "Configuration (environment variables):",
    "",
  ];
  const width = Math.max(...SETTINGS.map((s) => s.env.length));
  for (const s of SETTINGS) {
    const plain = (t: string) => t.replace(/`/g, "").replace(/\[([^\]]+)\]\([^)]+\)/g, "$1");
    lines.push(`  ${s.env.padEnd(width)}  default: ${plain(s.shownDefault)}`);
    lines.push(`  ${" ".repeat(width)}  ${plain(s.description)}`);
  }
  return lines.join("\n") + "\n";
}

/** README's table, exactly as it must read (checked by a test). */
export function renderMarkdownTable(): string {
  const rows = SETTINGS.map((s) => `| \`${s.env}\` | ${s.shownDefault} | ${s.description} |`);
  return ["| Variable | Default | Meaning |", "| --- | --- | --- |", ...rows].join("\n");
}
