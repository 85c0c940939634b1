import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Api } from "../../../e2e/common/api.js";
import { ADMIN_PASSWORD, REPO_ROOT, startServer, type RunningServer } from "../../../e2e/common/server.js";
import { prepareTarget } from "../../../e2e/common/target.js";
import { parseStages } from "../src/stages.js";
import { refusals } from "../src/main.js";
import { failureLines } from "../src/failures.js";
import { verdict } from "../src/watch.js";

/**
 * The `runway` bin as a CI job runs it, against a real server (its own embedded PostgreSQL): create a
 * rollout from a folder onto a database and a group of tenant databases, run it, watch it to its exit code.
 */
const BIN = path.join(path.dirname(fileURLToPath(import.meta.url)), "../bin/runway.mjs");
const pg = createRequire(path.join(REPO_ROOT, "apps/server/package.json"))("pg") as {
  Client: new (o: { connectionString: string }) => { connect(): Promise<void>; query(sql: string): Promise<unknown>; end(): Promise<void> };
};

let server: RunningServer;
let token = "";
let dir = "";
const project = "cli";

function runway(args: string[], timeoutMs = 150_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, RUNWAY_URL: server.url, RUNWAY_TOKEN: token },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b));
    child.stderr.on("data", (b: Buffer) => (stderr += b));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`runway ${args.join(" ")} still running after ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const folder = (name: string, files: Record<string, string>) => {
  const d = path.join(dir, name);
  mkdirSync(path.join(d, "nested"), { recursive: true });
  for (const [f, c] of Object.entries(files)) writeFileSync(path.join(d, f), c);
  return d;
};

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "runway-cli-"));
  server = await startServer();
  const targetUrl = await prepareTarget(server.pgUrl);
  const su = new pg.Client({ connectionString: server.pgUrl });
  await su.connect();
  try {
    for (const t of ["cli_t_1", "cli_t_2"]) await su.query(`CREATE DATABASE ${t} OWNER e2e_target`);
  } finally {
    await su.end();
  }
  const admin = await Api.signIn(server.url, "admin", ADMIN_PASSWORD);
  await admin.createInstance("local", targetUrl);
  await admin.createProject(project, 0);
  await admin.call("POST", `/projects/${project}/database-groups`, { name: "tenants", instanceId: "local", pattern: "cli_t_*" });
  token = (await admin.call<{ token: string }>("POST", "/tokens", { name: "ci" })).token;
});
afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("runway CLI", () => {
  it("parses stages and decides the watch verdict", () => {
    expect(parseStages(["staging=local/e2e_target", "prod=tenants,local/x", "prod=more"])).toEqual([
      { environment: "staging", targets: [{ instanceId: "local", database: "e2e_target" }] },
      { environment: "prod", targets: [{ group: "tenants" }, { instanceId: "local", database: "x" }, { group: "more" }] },
    ]);
    const c = { NOT_STARTED: 0, PENDING: 0, AVAILABLE: 0, RUNNING: 0, DONE: 2, FAILED: 0, CANCELED: 0, SKIPPED: 1 };
    expect(verdict(c)).toBe("succeeded");
    expect(verdict({ ...c, RUNNING: 1 })).toBeNull();
    expect(verdict({ ...c, FAILED: 1, RUNNING: 1 })).toBeNull();
    expect(verdict({ ...c, FAILED: 1, NOT_STARTED: 3 })).toBe("failed");
    expect(verdict({ ...c, NOT_STARTED: 3 })).toBeNull();
    // Waiting tasks: still going unless every one waits behind a FAILED or CANCELED task.
    const waiting = { ...c, PENDING: 2 };
    const blockers = (blocked: number) => ({ held: 2, roots: [], stages: [{ stageId: "1", held: 2, blocked }] });
    expect(verdict(waiting, blockers(2))).toBe("failed");
    expect(verdict(waiting, blockers(1))).toBeNull();
    expect(verdict({ ...waiting, RUNNING: 1 }, blockers(2))).toBeNull();
    expect(verdict(waiting)).toBeNull();
  });

  it("says a failed rollout's failures: groups, the first ten tasks one a line, how many more, where to see them", () => {
    const task = (n: number, error?: { code?: string; message: string }) => ({
      id: String(n),
      rolloutId: "7",
      stageId: "1",
      type: "DATABASE_SCHEMA_UPDATE" as const,
      instanceId: "pg",
      database: `tenant_${n}`,
      schemaVersion: n === 1 ? null : "0003",
      statement: "…",
      status: "FAILED" as const,
      latestRun: { result: error ? { error } : {} } as never,
    });
    const long = `relation "x" does not exist\n${"y".repeat(300)}`;
    const tasks = [
      task(1, { message: "instance deleted" }),
      ...Array.from({ length: 11 }, (_, i) => task(i + 2, { code: "42P01", message: long })),
    ];
    const lines = failureLines(
      {
        groups: {
          groups: [
            { errorCode: "42P01", message: long, count: 14 },
            { errorCode: "none", message: "instance deleted", count: 1 },
          ],
        },
        failed: { tasks, nextPageToken: null, cursor: "c" },
      },
      15,
      "https://runway.example/rollouts/7",
    );
    expect(lines[0]).toMatch(/^ {2}14 × 42P01: relation "x" does not exist y+…$/);
    expect(lines[0]!.length).toBeLessThan(220);
    expect(lines[1]).toBe("  1 × (no SQLSTATE): instance deleted");
    expect(lines[2]).toBe("  ✗ task #1 pg/tenant_1 (DATABASE_SCHEMA_UPDATE): instance deleted");
    expect(lines[3]).toMatch(/^ {2}✗ task #2 pg\/tenant_2 \(version 0003\): 42P01 relation "x" does not exist y+…$/);
    expect(lines.filter((l) => l.startsWith("  ✗"))).toHaveLength(10);
    expect(lines.slice(-2)).toEqual(["  … and 5 more failed task(s)", "  see https://runway.example/rollouts/7"]);
  });

  it("--help on every command; usage errors exit 2", async () => {
    for (const args of [
      ["--help"],
      ["rollout", "--help"],
      ["rollout", "create", "--help"],
      ["rollout", "run", "--help"],
      ["rollout", "watch", "--help"],
    ]) {
      const r = await runway(args);
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.stdout).toContain("Usage: runway");
    }
    expect((await runway(["rollout", "create", "./x"])).code).toBe(2);
    // Mistakes said before any request: a mistyped id, a timeout that is not whole seconds, a missing folder.
    for (const [args, said] of [
      [["rollout", "watch", "abc"], "a rollout id is a positive whole number"],
      [["rollout", "run", "0"], "a rollout id is a positive whole number"],
      [["rollout", "watch", "1", "--timeout", "1h"], "give whole seconds"],
      [["rollout", "create", "--project", project, "--stage", "prod=tenants", path.join(dir, "nowhere")], "no such folder or file"],
    ] as const) {
      const r = await runway([...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toContain(said);
    }
  });

  it("create → run → watch exits 0 when every task is DONE; the same folder again has nothing pending", async () => {
    const src = folder("ok", {
      "V1__create_items.sql": "CREATE TABLE items (id bigint PRIMARY KEY)",
      // Saved with a byte-order mark, as some editors do: the server drops it (PostgreSQL would refuse it).
      "nested/V2__add_name.sql": "\uFEFFALTER TABLE items ADD COLUMN name text",
      "README.md": "ignored",
      // Flyway's undo script: never run as a change.
      "U2__undo_name.sql": "ALTER TABLE items DROP COLUMN name",
      // A Flyway callback, run by Flyway around every migrate; Runway leaves it out and says so.
      "afterMigrate__grants.sql": "GRANT SELECT ON ALL TABLES IN SCHEMA public TO PUBLIC",
    });
    const stages = ["--stage", "staging=local/e2e_target", "--stage", "prod=tenants"];
    const created = await runway(["rollout", "create", "--project", project, ...stages, src]);
    expect(created.code, created.stderr).toBe(0);
    const id = created.stdout.trim();
    expect(id).toMatch(/^\d+$/);
    expect(created.stderr).toContain("prod: 2 database(s), 4 task(s)");
    expect(created.stderr).toMatch(
      /left out \(not changes\): (U2__undo_name\.sql, afterMigrate__grants\.sql|afterMigrate__grants\.sql, U2__undo_name\.sql)/,
    );

    const run = await runway(["rollout", "run", id]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain("6 task(s) started");

    const watched = await runway(["rollout", "watch", id, "--timeout", "120"]);
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stderr).toContain("every task DONE or SKIPPED");

    const again = await runway(["--json", "rollout", "create", "--project", project, ...stages, src]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ rollout: null, plan: { totals: { tasks: 0, applied: 6 } } });
  });

  it("create refuses a folder whose files could never run: each file on a line of its own, exit 4", async () => {
    const src = folder("unrunnable", {
      "V1__create_items.sql": "CREATE TABLE items (id bigint PRIMARY KEY)",
      "V2__typo.sql": "ALTER TABEL items ADD COLUMN name text",
      "V3__todo.sql": "-- written later",
    });
    const created = await runway(["rollout", "create", "--project", project, "--stage", "prod=tenants", src]);
    expect(created.code, created.stderr).toBe(4);
    expect(created.stdout).toBe("");
    expect(created.stderr).toMatch(
      /^runway: INVALID_ARGUMENT:\n {2}V2__typo\.sql: syntax error at or near "TABEL" at position 7\n {2}V3__todo\.sql: the statement has nothing to run/,
    );
    expect(refusals({ errors: [{ message: "a" }, { message: "b" }], refused: 30 })).toEqual(["a", "b", "and 28 more"]);
    expect(refusals({ reason: "X" })).toEqual([]);
  });

  it("create fails (exit 4) when a stage's group names no database, rather than saying nothing is pending", async () => {
    const admin = await Api.signIn(server.url, "admin", ADMIN_PASSWORD);
    await admin.call("POST", `/projects/${project}/database-groups`, { name: "typo", instanceId: "local", pattern: "cli_tx_*" });
    const src = folder("typo-group", { "V1__create_items.sql": "CREATE TABLE items (id bigint PRIMARY KEY)" });
    const created = await runway(["rollout", "create", "--project", project, "--stage", "prod=typo", src]);
    expect(created.code, created.stderr).toBe(4);
    expect(created.stdout).toBe("");
    expect(created.stderr).toContain('runway: FAILED_PRECONDITION: stage "prod" names no database (group "typo" matches none)');
    expect(created.stderr).toContain("  ! prod: names no database (typo match none)");
    expect(created.stderr).not.toContain("nothing pending");
  });

  it("watch exits 1 when a task fails", async () => {
    const src = folder("bad", {
      "V1__create_items.sql": "CREATE TABLE items (id bigint PRIMARY KEY)",
      "V2__add_name.sql": "ALTER TABLE items ADD COLUMN name text",
      "V3__boom.sql": "SELECT 1 / 0",
    });
    const created = await runway(["--json", "rollout", "create", "--project", project, "--stage", "prod=tenants", src]);
    expect(created.code, created.stderr).toBe(0);
    const id = JSON.parse(created.stdout).rollout.id as string;
    expect((await runway(["rollout", "run", id])).code).toBe(0);
    const watched = await runway(["rollout", "watch", id, "--timeout", "120"]);
    expect(watched.code, watched.stderr).toBe(1);
    expect(watched.stderr).toContain("2 failed");
    // Which databases failed and why, without opening the dashboard: grouped by SQLSTATE, then each task.
    expect(watched.stderr).toContain("  2 × 22012: division by zero");
    expect(watched.stderr).toMatch(/ {2}✗ task #\d+ local\/\w+ \(version 3\): 22012 division by zero/);
    expect(watched.stderr).toContain(`  see ${server.url}/rollouts/${id}`);
    // With --json the last line says the verdict and carries the failures, for a job that parses stdout.
    const json = await runway(["--json", "rollout", "watch", id, "--timeout", "120"]);
    expect(json.code, json.stderr).toBe(1);
    const last = JSON.parse(json.stdout.trim().split("\n").at(-1)!);
    expect(last).toMatchObject({
      rolloutId: id,
      verdict: "failed",
      statusCounts: { FAILED: 2 },
      failures: {
        groups: [{ errorCode: "22012", count: 2 }],
        tasks: [
          { schemaVersion: "3", error: { code: "22012" } },
          { schemaVersion: "3", error: { code: "22012" } },
        ],
      },
    });
  });

  it("watch says what the waiting tasks wait for, and exits 1 when they all wait behind a failed task", async () => {
    const su = new pg.Client({ connectionString: server.pgUrl });
    await su.connect();
    try {
      await su.query("CREATE DATABASE cli_stuck OWNER e2e_target");
    } finally {
      await su.end();
    }
    const src = folder("stuck", {
      "V1__create_items.sql": "CREATE TABLE items (id bigint PRIMARY KEY)",
      "V2__boom.sql": "SELECT 1 / 0",
      "V3__add_name.sql": "ALTER TABLE items ADD COLUMN name text",
    });
    const created = await runway(["--json", "rollout", "create", "--project", project, "--stage", "prod=local/cli_stuck", src]);
    expect(created.code, created.stderr).toBe(0);
    const id = JSON.parse(created.stdout).rollout.id as string;
    expect((await runway(["rollout", "run", id])).code).toBe(0);
    // V3 waits behind the FAILED V2 for someone to retry or skip it: the watch neither waits for that nor times out.
    const watched = await runway(["rollout", "watch", id, "--timeout", "120"]);
    expect(watched.code, watched.stderr).toBe(1);
    expect(watched.stderr).toMatch(/1 waiting: task #\d+ FAILED holds 1/);
    expect(watched.stderr).toContain("1 failed, 0 canceled; 1 waiting behind a FAILED or CANCELED task");
  });
});
