import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { generateKey, SecretBox, SecretKeyError } from "../../src/secrets/secret-box.js";
import { KEY_FILE, loadKeys } from "../../src/secrets/keys.js";
import { secretsRotate, secretsStartup } from "../../src/secrets/startup.js";
import { instanceCreate } from "../../src/store/instances.js";
import { startTrust } from "../../src/trust.js";
import { createTestDatabase } from "../helpers/db.js";
import { plaintextRows } from "../helpers/fixtures.js";
import { useApiApp } from "../helpers/api-app.js";
import { ADMIN_PASSWORD, call, login } from "../helpers/api.js";

const SERVER_DIR = path.resolve(import.meta.dirname, "../..");
const api = useApiApp();

const stored = async () => await api.db.selectFrom("instance").select(["id", "connection_url"]).orderBy("id").execute();
const key64 = (k: Buffer) => k.toString("base64");

describe("secrets at rest", () => {
  it("seals with AES-256-GCM: the value names its key, opens only with it, and tampering is detected", () => {
    const box = new SecretBox(generateKey());
    const sealed = box.seal("postgres://u:hunter2@h/db");
    expect(sealed).toMatch(/^rw1:[0-9a-f]{16}:[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain("hunter2");
    expect(box.open(sealed)).toBe("postgres://u:hunter2@h/db");
    expect(box.seal("same")).not.toBe(box.seal("same"));
    expect(() => new SecretBox(generateKey()).open(sealed)).toThrow(SecretKeyError);
    const tampered = sealed.slice(0, -2) + (sealed.endsWith("A") ? "BB" : "AA");
    expect(() => box.open(tampered)).toThrow(/does not open/);
  });

  it("the embedded default: a key file created with mode 0600 on first start, the same key afterwards; a readable file is refused", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "runway-key-"));
    try {
      const first = await loadKeys({ secretKey: undefined, secretKeyPrevious: undefined, dataDir: dir });
      const st = await fs.stat(path.join(dir, KEY_FILE));
      expect(st.mode & 0o777).toBe(0o600);
      const again = await loadKeys({ secretKey: undefined, secretKeyPrevious: undefined, dataDir: dir });
      expect(again.box.keyId).toBe(first.box.keyId);
      await fs.chmod(path.join(dir, KEY_FILE), 0o644);
      await expect(loadKeys({ secretKey: undefined, secretKeyPrevious: undefined, dataDir: dir })).rejects.toThrow(
        /readable by other users/,
      );
      await expect(loadKeys({ secretKey: "c2hvcnQ=", secretKeyPrevious: undefined, dataDir: dir })).rejects.toThrow(
        /RUNWAY_SECRET_KEY must be 32 random bytes/,
      );
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it("first start seals plaintext rows (idempotent); the API never answers with the secret; a wrong key refuses to start", async () => {
    await instanceCreate(
      api.db,
      { id: "legacy", title: "Legacy", connectionUrl: "postgres://app:legacy-pass@db.example:5432/app" },
      plaintextRows,
    );
    const key = generateKey();
    const env = { secretKey: key64(key), secretKeyPrevious: undefined, dataDir: "/nonexistent" };
    const trust = await startTrust(api.db, env);
    expect(trust.sealed).toBe(1);
    expect((await startTrust(api.db, env)).sealed).toBe(0);
    const [row] = await stored();
    expect(row!.connection_url).not.toContain("legacy-pass");
    expect(trust.secrets.open(row!.connection_url)).toBe("postgres://app:legacy-pass@db.example:5432/app");

    // Its own app: the fixture's seals with the test process's key, this one with the key just started.
    const app = await api.extraApp({ secrets: trust.secrets });
    const admin = await login(app, "admin", ADMIN_PASSWORD);
    const created = await call(app, admin, {
      method: "POST",
      url: "/api/v1/instances",
      payload: { id: "fresh", title: "F", connectionUrl: "postgres://app:fresh-pass@127.0.0.1:1/app" },
    });
    expect(created.statusCode, created.body).toBe(201);
    const answers = [
      created,
      await call(app, admin, { method: "GET", url: "/api/v1/instances" }),
      await call(app, admin, { method: "GET", url: "/api/v1/audit-log" }),
    ];
    const metrics = await app.inject({ method: "GET", url: "/metrics" });
    for (const res of [...answers, metrics]) {
      expect(res.body).not.toContain("legacy-pass");
      expect(res.body).not.toContain("fresh-pass");
    }
    expect(answers[1]!.json().instances.map((i: { connectionUrl: string }) => i.connectionUrl)).toEqual([
      "postgres://app:****@127.0.0.1:1/app",
      "postgres://app:****@db.example:5432/app",
    ]);
    for (const r of await stored()) expect(SecretBox.keyIdOfValue(r.connection_url)).toBe(trust.secrets.keyId);

    const wrong = { ...env, secretKey: key64(generateKey()) };
    await expect(startTrust(api.db, wrong)).rejects.toThrow(
      /is not the key the stored secrets are sealed with .*Every replica needs the same key/,
    );
  });

  it("rotation re-seals everything under the new key; the old key is accepted while it runs and refused after", async () => {
    const oldKey = generateKey();
    const newKey = generateKey();
    const t2 = await createTestDatabase();
    try {
      const oldBox = new SecretBox(oldKey);
      await secretsStartup(t2.db, oldBox);
      for (const id of ["a", "b", "c"])
        await instanceCreate(t2.db, { id, title: id, connectionUrl: `postgres://u:pw-${id}@h/${id}` }, oldBox);
      // Replicas restarted with both keys open old and new values alike.
      const both = new SecretBox(newKey, [oldKey]);
      await secretsStartup(t2.db, both);
      await instanceCreate(t2.db, { id: "d", title: "d", connectionUrl: "postgres://u:pw-d@h/d" }, both);
      expect(await secretsRotate(t2.db, both)).toEqual({ resealed: 3 });
      const rows = await t2.db.selectFrom("instance").select(["id", "connection_url"]).orderBy("id").execute();
      const onlyNew = new SecretBox(newKey);
      expect(rows.map((r) => onlyNew.open(r.connection_url))).toEqual(["a", "b", "c", "d"].map((id) => `postgres://u:pw-${id}@h/${id}`));
      await expect(secretsStartup(t2.db, oldBox)).rejects.toThrow(SecretKeyError);
      await expect(secretsStartup(t2.db, onlyNew)).resolves.toEqual({ sealed: 0 });
    } finally {
      await t2.close();
    }
  });

  it("`rotate-key` (the command) rotates from RUNWAY_SECRET_KEY to RUNWAY_NEW_SECRET_KEY", async () => {
    const oldKey = generateKey();
    const newKey = generateKey();
    const t3 = await createTestDatabase();
    try {
      const oldBox = new SecretBox(oldKey);
      await secretsStartup(t3.db, oldBox);
      await instanceCreate(t3.db, { id: "x", title: "x", connectionUrl: "postgres://u:pw@h/x" }, oldBox);
      const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "src/cli/rotate-key.ts"], {
        cwd: SERVER_DIR,
        timeout: 120_000,
        env: { ...process.env, DATABASE_URL: t3.url, RUNWAY_SECRET_KEY: key64(oldKey), RUNWAY_NEW_SECRET_KEY: key64(newKey) },
      });
      expect(stdout).toContain(`1 secret(s) now sealed with key ${new SecretBox(newKey).keyId}`);
      const row = await t3.db.selectFrom("instance").select("connection_url").executeTakeFirstOrThrow();
      expect(new SecretBox(newKey).open(row.connection_url)).toBe("postgres://u:pw@h/x");
      await expect(secretsStartup(t3.db, oldBox)).rejects.toThrow(SecretKeyError);
    } finally {
      await t3.close();
    }
  });
});
