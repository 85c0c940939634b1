import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../src/config.js";
import { freePort } from "../src/db/embedded.js";
import { withStartupRetry } from "../src/db/startup-retry.js";
import { startReplica, type ReplicaHandle } from "../src/replica.js";
import { createTestDatabase, waitFor, type TestDatabase } from "./helpers/db.js";
import { FaultProxy } from "./helpers/fault-proxy.js";

const refused = () => Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });

describe("withStartupRetry", () => {
  it("waits out an unreachable control database, then returns the step's result", async () => {
    let calls = 0;
    const warnings: string[] = [];
    const result = await withStartupRetry(
      "clock",
      async () => {
        if (++calls < 3) throw refused();
        return "synced";
      },
      { warn: (m) => warnings.push(m) },
    );
    expect(result).toBe("synced");
    expect(calls).toBe(3);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/start-up step "clock" could not reach the control database \(connect ECONNREFUSED/);
  });

  it("ends the start at once on an error that is not the database being unavailable", async () => {
    let calls = 0;
    const wrongKey = new Error("this replica's secret key is not the key the stored secrets are sealed with");
    await expect(
      withStartupRetry("secret key check", async () => {
        calls++;
        throw wrongKey;
      }),
    ).rejects.toBe(wrongKey);
    expect(calls).toBe(1);
  });

  it("gives up with the last error after its bound", async () => {
    let clock = 0;
    let calls = 0;
    await expect(
      withStartupRetry(
        "migrations",
        async () => {
          calls++;
          clock += 40_000; // each attempt "takes" 40 s of the 60 s bound
          throw Object.assign(new Error("the database system is starting up"), { code: "57P03" });
        },
        { now: () => clock, warn: () => undefined },
      ),
    ).rejects.toMatchObject({ code: "57P03" });
    expect(calls).toBe(2);
  });
});

describe("a replica started while its control database is unreachable", () => {
  let control: TestDatabase | undefined;
  let proxy: FaultProxy | undefined;
  let replica: ReplicaHandle | undefined;
  afterEach(async () => {
    await replica?.stop();
    await proxy?.close();
    await control?.close();
    vi.restoreAllMocks();
  });

  it("starts when the database answers again instead of exiting (a PostgreSQL restart beside a deploy)", async () => {
    control = await createTestDatabase();
    const upstream = new URL(control.url);
    proxy = await FaultProxy.start(upstream.hostname, Number(upstream.port));
    proxy.refuse();
    const warnings: string[] = [];
    vi.spyOn(console, "warn").mockImplementation((m: unknown) => void warnings.push(String(m)));
    const config = loadConfig(
      {
        DATABASE_URL: proxy.rewrite(control.url),
        PORT: String(await freePort()),
        HOST: "127.0.0.1",
        RUNWAY_SECRET_KEY: randomBytes(32).toString("base64"),
        RUNWAY_ADMIN_PASSWORD: "startup-retry",
        RUNWAY_DEMO: "0",
        LOG_LEVEL: "silent",
      },
      [],
    );
    const starting = startReplica(config).then((r) => (replica = r));
    // The migrations step (the first to reach the database) is being retried, not failed.
    await waitFor(async () => warnings.filter((w) => w.includes(`"migrations"`)).length >= 2, { what: "two retried attempts" });
    proxy.pass();
    const started = await starting;
    const ready = await started.app.inject({ method: "GET", url: "/readyz" });
    expect(ready.statusCode).toBe(200);
  });
});
