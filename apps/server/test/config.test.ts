import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ConfigError, describeConfig, loadConfig, REPO_ROOT } from "../src/config.js";
import { renderHelp, renderMarkdownTable } from "../src/config/read.js";
import { SETTINGS } from "../src/config/settings.js";

const run = promisify(execFile);

function problems(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env, []);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.env}=${p.given}: ${p.message}`);
    throw err;
  }
  return [];
}

describe("configuration", () => {
  it("README's table is the settings table", () => {
    expect(readFileSync(path.join(REPO_ROOT, "README.md"), "utf8")).toContain(renderMarkdownTable());
  });

  it("reports every bad value at once, each with what was given and what is wanted", () => {
    const out = problems({
      PORT: "80a",
      RUNWAY_CONCURRENCY: "0",
      RUNWAY_LEASE_TTL_MS: "1.5",
      LOG_LEVEL: "loud",
      DATABASE_URL: "mysql://x@y/z",
      RUNWAY_SECRET_KEY: "c2hvcnQ=",
      RUNWAY_DEMO: "yes",
    });
    expect(out).toEqual([
      "DATABASE_URL=(hidden): must be a postgres or postgresql:// URL",
      "PORT=80a: must be a whole number",
      "RUNWAY_CONCURRENCY=0: must be between 1 and 1000",
      "RUNWAY_LEASE_TTL_MS=1.5: must be a whole number of ms",
      "RUNWAY_DEMO=yes: must be one of 1, 0, true, false",
      "RUNWAY_SECRET_KEY=(hidden): must be 32 random bytes in base64 (openssl rand -base64 32); got 5 bytes",
      "LOG_LEVEL=loud: must be one of fatal, error, warn, info, debug, trace, silent",
    ]);
  });

  it("checks values against each other", () => {
    expect(problems({ RUNWAY_HEADERS_TIMEOUT_MS: "20000", RUNWAY_REQUEST_TIMEOUT_MS: "10000" })).toEqual([
      "RUNWAY_HEADERS_TIMEOUT_MS=20000: must not exceed RUNWAY_REQUEST_TIMEOUT_MS (10000)",
    ]);
  });

  it("treats empty values as unset and reads good ones", () => {
    const c = loadConfig(
      { PORT: "", RUNWAY_CONCURRENCY: "3", RUNWAY_TRUST_PROXY: "10.0.0.0/8, 127.0.0.1", RUNWAY_TARGET_RETRY_S: "5" },
      [],
    );
    expect(c.port).toBe(8080);
    expect(c.concurrency).toBe(3);
    expect(c.trustProxy).toEqual(["10.0.0.0/8", "127.0.0.1"]);
    expect(c.targetRetryMs).toBe(5000);
    expect(problems({ RUNWAY_TRUST_PROXY: "10.0.0.0/8,evil.example" })).toEqual([
      "RUNWAY_TRUST_PROXY=10.0.0.0/8,evil.example: must be true, a hop count, or addresses/CIDRs; not evil.example",
    ]);
  });

  it("masks secrets in the logged configuration", () => {
    const key = Buffer.alloc(32, 7).toString("base64");
    const c = loadConfig(
      { DATABASE_URL: "postgres://runway:hunter2@db:5432/runway", RUNWAY_SECRET_KEY: key, RUNWAY_ADMIN_PASSWORD: "pw" },
      [],
    );
    const shown = JSON.stringify(describeConfig(c));
    expect(shown).not.toContain("hunter2");
    expect(shown).not.toContain(key);
    expect(shown).not.toContain('"pw"');
    expect(shown).toContain("postgres://runway:********@db:5432/runway");
  });

  it("--help lists every setting; a bad value exits 2 naming it", async () => {
    const main = path.join(REPO_ROOT, "apps/server/src/main.ts");
    const tsx = path.join(REPO_ROOT, "apps/server/node_modules/.bin/tsx");
    const help = await run(tsx, [main, "--help"], { timeout: 100_000 });
    expect(help.stdout).toBe(renderHelp());
    for (const s of SETTINGS) expect(help.stdout).toContain(s.env);
    const bad = await run(tsx, [main], { env: { ...process.env, PORT: "http", RUNWAY_CONCURRENCY: "-1" }, timeout: 100_000 }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect("code" in bad && bad.code).toBe(2);
    expect(bad.stderr).toContain('PORT="http": must be a whole number');
    expect(bad.stderr).toContain('RUNWAY_CONCURRENCY="-1": must be between 1 and 1000');
  }, 240_000);
});
