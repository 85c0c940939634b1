/**
 * Unit tests of the harness's own parts, on crafted facts: the two invariants of issue 10 (no stuck run,
 * no gate freed early) must catch a stuck claim and an overlapping session, and pass clean ones; the
 * fault plan must hold every kind asked for; the fault proxy must black-hole, sever, reset and delay; the
 * clock-skew preload must move Date. Run with `tsx --test` (part of the package's `test` script).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { findEarlyGates } from "../src/checks/gate.js";
import { faultFreeMs, findStuckRuns, heldForGood, type StuckInput } from "../src/checks/stuck.js";
import type { JournalRow, TaskRow } from "../src/facts.js";
import { parseFaultSpec, planMixedFaults } from "../src/fault-kinds.js";
import { FaultProxy } from "../src/fault-proxy.js";
import { planFaults } from "../src/faults.js";
import { PRESETS, parseOptions, type ChaosOptions } from "../src/options.js";
import { Rng } from "../src/rng.js";
import { planWorkload } from "../src/workload.js";
import type { CheckContext } from "../src/checks/context.js";
import { checkNoLoss } from "../src/checks/outcomes.js";
import { checkWebhooks } from "../src/checks/webhooks.js";
import type { WebhookFacts } from "../src/webhooks.js";

const T0 = Date.parse("2026-12-01T10:00:00Z");
const s = (sec: number) => T0 + sec * 1000;

function stuckInput(over: Partial<StuckInput>): StuckInput {
  return { runs: [], statusLog: [], faults: [], healedAt: s(100), endedAt: s(200), boundMs: 25_000, heldForGood: new Set(), ...over };
}

describe("no stuck run", () => {
  it("flags a claim that never ends (RUNNING at the end) and one that ended long after the bound", () => {
    const r = findStuckRuns(
      stuckInput({
        runs: [
          { id: "1", taskId: "11", status: "RUNNING" },
          { id: "2", taskId: "12", status: "DONE" },
        ],
        statusLog: [
          { runId: "1", at: s(90), status: "RUNNING", epoch: 1, replica: "r1g1" },
          { runId: "2", at: s(110), status: "RUNNING", epoch: 2, replica: "r2g1" },
          { runId: "2", at: s(150), status: "DONE", replica: "r2g1" },
        ],
      }),
    );
    assert.equal(r.violations.length, 2, r.violations.join("\n"));
    assert.match(r.violations[0]!, /run 1: claim of epoch 1 by r1g1 .* still RUNNING at the end/);
    assert.match(r.violations[1]!, /run 2: claim of epoch 2 .* lasted 40\.0 s .* became DONE/);
  });

  it("does not count time inside a fault: a claim held through a 60 s black hole and done 10 s after it healed is fine", () => {
    const r = findStuckRuns(
      stuckInput({
        runs: [{ id: "1", taskId: "11", status: "DONE" }],
        statusLog: [
          { runId: "1", at: s(10), status: "RUNNING", epoch: 1, replica: "r1g1" },
          { runId: "1", at: s(80), status: "DONE", replica: "r1g1" },
        ],
        faults: [{ at: s(12), endedAt: s(70) }],
      }),
    );
    assert.deepEqual(r.violations, []);
    assert.equal(r.longestMs, 12_000);
  });

  it("a backlog is not a stuck run: PENDING and AVAILABLE waits do not count, final runs pass", () => {
    const r = findStuckRuns(
      stuckInput({
        runs: [{ id: "1", taskId: "11", status: "DONE" }],
        statusLog: [
          { runId: "1", at: s(0), status: "PENDING", replica: null },
          { runId: "1", at: s(60), status: "AVAILABLE", replica: null },
          { runId: "1", at: s(150), status: "RUNNING", epoch: 1, replica: "r1g1" },
          { runId: "1", at: s(151), status: "DONE", replica: "r1g1" },
        ],
      }),
    );
    assert.deepEqual(r.violations, []);
  });

  it("flags a run left PENDING or AVAILABLE, unless held by a version that can never be DONE", () => {
    const tasks: TaskRow[] = [
      { id: "11", rolloutId: "1", type: "DATABASE_SCHEMA_UPDATE", database: "d", schemaVersion: "1.9", status: "FAILED", limit: 1 },
      { id: "12", rolloutId: "1", type: "DATABASE_SCHEMA_UPDATE", database: "d", schemaVersion: "1.10", status: "PENDING", limit: 1 },
      { id: "13", rolloutId: "1", type: "DATABASE_DATA_UPDATE", database: "d", schemaVersion: null, status: "PENDING", limit: 1 },
    ];
    const runs = [
      { id: "2", taskId: "12", status: "PENDING" },
      { id: "3", taskId: "13", status: "AVAILABLE" },
    ];
    const held = heldForGood(tasks, runs);
    assert.deepEqual([...held], ["2"]);
    const r = findStuckRuns(stuckInput({ runs, heldForGood: held }));
    assert.equal(r.violations.length, 1);
    assert.match(r.violations[0]!, /run 3 \(task 13\) is still AVAILABLE at the end/);
  });

  it("flags a waiting cause left for a run that is no longer PENDING", () => {
    const runs = [
      { id: "1", taskId: "11", status: "CANCELED" },
      { id: "2", taskId: "12", status: "PENDING" },
    ];
    const waits = new Map([
      ["1", 'DATABASE_BUSY {"type":"DATABASE_BUSY"}'],
      ["2", 'VERSION_ORDER {"type":"VERSION_ORDER"}'],
    ]);
    const r = findStuckRuns(stuckInput({ runs, waits, heldForGood: new Set(["2"]) }));
    assert.equal(r.violations.length, 1, r.violations.join("\n"));
    assert.match(r.violations[0]!, /run 1 is CANCELED but still has a waiting cause: DATABASE_BUSY/);
  });

  it("measures fault-free time across overlapping and unhealed faults", () => {
    const faults = [
      { at: s(10), endedAt: s(20) },
      { at: s(15), endedAt: s(30) },
      { at: s(50), endedAt: 0 },
    ];
    assert.equal(faultFreeMs(s(0), s(60), faults, s(55)), 60_000 - 20_000 - 5000);
  });
});

const row = (over: Partial<JournalRow>): JournalRow => ({
  db: "chaos_db_00",
  marker: "t00001",
  taskId: "1",
  attempt: 1,
  runId: "10",
  epoch: 1,
  replica: "r1g1",
  schemaVersion: null,
  startedAt: new Date(s(5)),
  committedAt: new Date(s(6)),
  pid: 4242,
  overlaps: null,
  ...over,
});

describe("no gate freed early", () => {
  it("flags a sequential statement that began beside another one's open transaction, naming it", () => {
    const r = findEarlyGates(
      [
        row({}),
        row({
          marker: "t00002",
          runId: "11",
          pid: 4343,
          overlaps: [{ pid: 4242, app: "runway run 10 attempt 1 epoch 1 r1g1", state: "active", xactStart: new Date(s(4)).toISOString() }],
        }),
      ],
      1,
    );
    assert.equal(r.violations.length, 1);
    assert.match(
      r.violations[0]!,
      /t00002 \(run 11 epoch 1, r1g1, pid 4343\) began at .* while pid 4242 "runway run 10 attempt 1 epoch 1 r1g1" \(active/,
    );
  });

  it("flags overlaps seen by attempts that rolled back (only their count survives)", () => {
    const r = findEarlyGates([row({})], 2);
    assert.deepEqual(r.violations, [
      "2 more sequential statement(s) began beside an open sequential transaction and then rolled back (a rollback keeps only the count)",
    ]);
  });

  it("flags a CREATE INDEX CONCURRENTLY that ran beside an older open transaction (counted by the index expression)", () => {
    const r = findEarlyGates([row({})], 0, 1);
    assert.deepEqual(r.violations, [
      "1 non-transactional schema change(s) (CREATE INDEX CONCURRENTLY) ran while a sequential transaction that began before them was still open",
    ]);
  });

  it("passes statements that saw no open sequential transaction", () => {
    assert.deepEqual(findEarlyGates([row({}), row({ marker: "t00002", overlaps: [] })], 0).violations, []);
  });
});

describe("fault plan", () => {
  const o = (faults: string, extra: Partial<ChaosOptions> = {}) => ({
    ...(parseOptions(["--preset", "short", "--seed", "1"]) as ChaosOptions),
    faults,
    ...extra,
  });

  it("the short preset's plan starts with one fault of each of its four kinds, for every seed", () => {
    for (let seed = 0; seed < 50; seed++) {
      const plan = planMixedFaults(Rng.fromSeed(seed).fork(1), o(PRESETS.short!.faults!), parseFaultSpec(PRESETS.short!.faults!));
      const first = plan
        .slice(0, 4)
        .map((f) => f.kind.split("-")[0])
        .sort();
      assert.deepEqual(first, ["blackhole", "freeze", "kill", "restart"], `seed ${seed}`);
    }
  });

  it("`all` has every kind first, and refuses unknown kinds", () => {
    const plan = planMixedFaults(Rng.fromSeed(7), o("all", { durationS: 10 }), parseFaultSpec("all"));
    assert.equal(new Set(plan.slice(0, 11).map((f) => f.kind)).size, 11);
    assert.throws(() => parseFaultSpec("kill,earthquake"), /unknown fault kind "earthquake"/);
  });

  // Why these shapes: docs/reliability.md, "Self-tests of invariants 8 and 9 on a broken build".
  it("break-gate: an index build then a schema change on every database, and one long freeze, for every seed", () => {
    for (let seed = 0; seed < 50; seed++) {
      const g = parseOptions(["--preset", "break-gate", "--seed", String(seed)]) as ChaosOptions;
      const w = planWorkload(Rng.fromSeed(seed).fork(0), g);
      assert.equal(w.rollouts.length, 1);
      for (const db of w.databases) {
        const mine = w.tasks.filter((t) => t.database === db);
        assert.deepEqual(
          mine.map((t) => t.kind),
          ["cic", "schema"],
        );
        assert.equal(mine[1]!.schemaVersion, null, "a version could hold the schema change behind another database's order");
      }
      const plan = planFaults(Rng.fromSeed(seed).fork(1), g);
      const first = plan[0]!;
      assert.equal(first.kind, "freeze");
      // The only fault that starts inside the window; it ends long after the sweep (lease + sweep + 6 s).
      assert.ok(first.gapMs + first.downMs + 2500 > g.durationS * 1000, `seed ${seed}: a second fault could start`);
      assert.ok(first.downMs >= g.leaseTtlMs + g.sweepMs + 6000);
      // Every index build still runs when the freeze begins, with the sweep and the next change's start to go.
      assert.ok(first.gapMs + 10_000 <= g.cicSleepMs[0]);
    }
  });
});

/** An upstream that answers each chunk with "<chunk>!" and counts its connections. */
async function echo(): Promise<{ port: number; conns: net.Socket[]; close: () => Promise<void> }> {
  const conns: net.Socket[] = [];
  const srv = net.createServer((c) => {
    conns.push(c);
    c.on("error", () => undefined);
    c.on("data", (d) => c.write(`${d}!`));
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  return {
    port: (srv.address() as net.AddressInfo).port,
    conns,
    close: () =>
      new Promise<void>((r) => {
        for (const c of conns) c.destroy();
        srv.close(() => r());
      }),
  };
}

/** Sends `msg`, resolves with the first reply, or "timeout" / "error: CODE" within `ms`. */
function ask(sock: net.Socket, msg: string, ms: number): Promise<string> {
  return new Promise((resolve) => {
    const done = (v: string) => {
      clearTimeout(t);
      sock.off("data", onData);
      sock.off("error", onErr);
      sock.off("close", onClose);
      resolve(v);
    };
    const onData = (d: Buffer) => done(String(d));
    const onErr = (e: NodeJS.ErrnoException) => done(`error: ${e.code}`);
    const onClose = () => done("closed");
    const t = setTimeout(() => done("timeout"), ms);
    sock.on("data", onData);
    sock.on("error", onErr);
    sock.on("close", onClose);
    sock.write(msg);
  });
}

const connect = (port: number) =>
  new Promise<net.Socket>((resolve, reject) => {
    const c = net.connect({ port, host: "127.0.0.1" }, () => resolve(c));
    c.once("error", reject);
  });

describe("fault proxy", () => {
  it("forwards, black-holes without closing, resumes in order, severs, resets and delays", async () => {
    const up = await echo();
    const proxy = new FaultProxy("test", up.port);
    const port = await proxy.listen();
    try {
      const a = await connect(port);
      assert.equal(await ask(a, "one", 2000), "one!");

      proxy.blackhole();
      assert.equal(await ask(a, "two", 300), "timeout");
      const b = await connect(port); // accepted, but never reaches the server while the hole lasts
      assert.equal(await ask(b, "b1", 300), "timeout");
      assert.equal(up.conns.length, 1);
      proxy.heal();
      assert.equal(await new Promise<string>((r) => a.once("data", (d) => r(String(d)))), "two!");
      assert.equal(await new Promise<string>((r) => b.once("data", (d) => r(String(d)))), "b1!");

      proxy.blackhole();
      proxy.heal({ sever: true });
      assert.equal(await ask(a, "three", 300), "timeout"); // dead for good, and never closed
      assert.equal(a.destroyed, false);
      const c = await connect(port); // new connections work again
      assert.equal(await ask(c, "c1", 2000), "c1!");

      proxy.reset();
      assert.match(await ask(c, "c2", 2000), /error: ECONNRESET|closed/);
      const d = net.connect({ port, host: "127.0.0.1" });
      assert.match(await ask(d, "d1", 2000), /error: ECONNRESET|closed/);
      proxy.heal();

      proxy.latency(300);
      const e = await connect(port);
      const t = Date.now();
      assert.equal(await ask(e, "e1", 3000), "e1!");
      assert.ok(Date.now() - t >= 550, `latency both ways: ${Date.now() - t} ms`);
      proxy.heal();
      for (const x of [a, b, c, d, e]) x.destroy();
    } finally {
      await proxy.close();
      await up.close();
    }
  });
});

describe("clock-skew preload", () => {
  it("moves Date.now and new Date() by the offset, not dates built from a value", () => {
    const preload = path.join(path.dirname(fileURLToPath(import.meta.url)), "../src/clock-skew.ts");
    const out = execFileSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "--import",
        preload,
        "-e",
        "console.log(JSON.stringify([Date.now(), new Date().getTime(), new Date(0).getTime(), new Date() instanceof Date]))",
      ],
      { env: { ...process.env, CHAOS_CLOCK_OFFSET_MS: "-300000" }, encoding: "utf8" },
    );
    const [now, newDate, zero, isDate] = JSON.parse(out) as [number, number, number, boolean];
    assert.ok(Math.abs(Date.now() - 300_000 - now) < 10_000, `Date.now() ${now}`);
    assert.ok(Math.abs(Date.now() - 300_000 - newDate) < 10_000, `new Date() ${newDate}`);
    assert.equal(zero, 0);
    assert.equal(isDate, true);
  });
});

describe("webhooks: every recorded event delivered exactly once (by id), none invented", () => {
  const ctx = (webhooks: WebhookFacts) => ({ facts: { webhooks } }) as unknown as CheckContext;
  const got = (id: string, accepted: boolean, body = `{"id":"${id}"}`) => ({
    id,
    type: "TASK_RUN_FAILED",
    body,
    accepted,
    signatureOk: true,
  });
  const clean: WebhookFacts = {
    events: [
      { uid: "a", kind: "TASK_RUN_FAILED", runId: "1", rolloutId: "9", states: ["DELIVERED"] },
      { uid: "b", kind: "ROLLOUT_DONE", runId: null, rolloutId: "8", states: ["DELIVERED"] },
    ],
    failedRuns: ["1"],
    doneRollouts: ["8"],
    received: [got("a", false), got("a", true), got("a", true), got("b", true)],
  };

  it("passes retries and duplicates that de-duplicate by id", () => {
    const r = checkWebhooks(ctx(clean));
    assert.deepEqual(r.violations, []);
    assert.match(r.detail, /1 accepted duplicates removed by id/);
  });

  it("catches a lost event, an invented id, a changed payload, a bad signature and a missing outbox row", () => {
    const r = checkWebhooks(
      ctx({
        ...clean,
        failedRuns: ["1", "2"],
        received: [got("a", false), got("a", true, "{}"), { ...got("zz", true), signatureOk: false }],
      }),
    );
    const all = r.violations.join("\n");
    assert.match(all, /run 2 ended FAILED with 0 TASK_RUN_FAILED events/);
    assert.match(all, /event b \(ROLLOUT_DONE\) was never accepted/);
    assert.match(all, /id "zz".*which no recorded event has/);
    assert.match(all, /zz has no valid signature/);
    assert.match(all, /event a arrived with different payloads/);
  });
});

describe("no loss: an index build that lost its session", () => {
  /** One "cic" task, FAILED with `code`, nothing in the target's ledger. */
  const ctx = (code: string) =>
    ({
      w: { tasks: [{ key: "t1", kind: "cic", database: "d1" }] },
      s: { taskIdByKey: new Map([["t1", "1"]]) },
      facts: { runs: [], ledger: [], dataRows: new Map(), schemaApplied: new Set(), databases: new Set() },
      taskById: new Map([["1", { id: "1", status: "FAILED" }]]),
      committedByMarker: new Map(),
      latestRun: () => ({ result: { error: { code, message: "…" } } }),
    }) as unknown as CheckContext;

  it("passes a FAILED build whose session a fault ended (the target's shutdown, a reset, our own timeout)", () => {
    for (const code of ["57P01", "08006", "ECONNRESET", "EPIPE", "QUERY_TIMEOUT"])
      assert.deepEqual(checkNoLoss(ctx(code)).violations, [], code);
  });

  it("flags a build FAILED by its own error", () => {
    assert.equal(checkNoLoss(ctx("23505")).violations.length, 1);
  });
});
