import { describe, expect, it } from "vitest";
import { targetsToRead } from "../src/releases/ledgers.js";
import { ledgerSnapshotsGet, ledgerSnapshotsPut, ledgerSnapshotsRecordApplied } from "../src/store/ledger-snapshots.js";
import { useApiApp } from "./helpers/api-app.js";

/**
 * Ledger snapshots (issue 16): written on a read (newest read wins, whoever writes last), appended to when
 * Runway applies a change (only where a snapshot exists, never twice), and which of them a create re-reads.
 */
const api = useApiApp();
const at = (s: number) => new Date(Date.UTC(2026, 11, 1, 12, 0, s));
const row = (v: string | null, c: string) => ({ schemaVersion: v, checksum: c });

describe("ledger snapshots", () => {
  it("stores a read and gives it back; an older read never replaces a newer one, whatever order two replicas write in", async () => {
    const { instanceId } = await api.project();
    const t = { instanceId, database: "tenant_a" };
    const newer = { ...t, rows: [row("1", "c1"), row("2", "c2")], readAt: at(10) };
    const older = { ...t, rows: [row("1", "c1")], readAt: at(5) };
    // Two replicas store their reads at once; the slow one read earlier.
    const stored = await Promise.all([ledgerSnapshotsPut(api.db, [newer], at(11)), ledgerSnapshotsPut(api.db, [older], at(12))]);
    expect(stored.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    const got = (await ledgerSnapshotsGet(api.db, [t, { instanceId, database: "none" }])).get(`${instanceId}\0tenant_a`)!;
    expect(got.rows).toEqual(newer.rows);
    expect(got.readAt).toEqual(at(10));
    expect((await ledgerSnapshotsGet(api.db, [{ instanceId, database: "none" }])).size).toBe(0);
    // A later read replaces it, and a snapshot of an unknown instance is not stored.
    expect(
      await ledgerSnapshotsPut(
        api.db,
        [
          { ...t, rows: [], readAt: at(20) },
          { ...t, instanceId: "no-such", readAt: at(20), rows: [] },
        ],
        at(21),
      ),
    ).toBe(1);
    expect((await ledgerSnapshotsGet(api.db, [t])).get(`${instanceId}\0tenant_a`)!.rows).toEqual([]);
  });

  it("appends what Runway applied only where a snapshot exists, once, even from two replicas at once; the read time stays", async () => {
    const { instanceId } = await api.project();
    const a = { instanceId, database: "tenant_a" };
    const b = { instanceId, database: "tenant_b" };
    await ledgerSnapshotsPut(api.db, [{ ...a, rows: [row("1", "c1")], readAt: at(1) }], at(1));
    const applied = [
      { ...a, schemaVersion: "2", checksum: "c2" },
      { ...a, schemaVersion: "2.R.001", checksum: "c3" },
      { ...b, schemaVersion: "1", checksum: "c1" },
    ];
    await Promise.all([
      ledgerSnapshotsRecordApplied(api.db, applied, at(2)),
      ledgerSnapshotsRecordApplied(api.db, applied, at(2)),
      ledgerSnapshotsRecordApplied(api.db, [applied[0]!], at(3)),
    ]);
    const snaps = await ledgerSnapshotsGet(api.db, [a, b]);
    expect(snaps.has(`${instanceId}\0tenant_b`)).toBe(false);
    const sa = snaps.get(`${instanceId}\0tenant_a`)!;
    expect(sa.rows).toHaveLength(3);
    expect(sa.rows).toEqual(expect.arrayContaining([row("1", "c1"), row("2", "c2"), row("2.R.001", "c3")]));
    expect(sa.readAt).toEqual(at(1));
    expect(await ledgerSnapshotsRecordApplied(api.db, [applied[0]!], at(4))).toBe(0);
  });
});

describe("which ledgers a plan reads on the targets", () => {
  const targets = [
    { instanceId: "i", database: "fresh" },
    { instanceId: "i", database: "old" },
    { instanceId: "i", database: "missing" },
  ];
  const snaps = new Map([
    ["i\0fresh", { readAt: at(50) }],
    ["i\0old", { readAt: at(0) }],
  ]);
  it("a preview reads only databases without a snapshot", () => {
    expect(targetsToRead(targets, snaps, { use: "any", maxAgeMs: 30_000 }, at(59)).map((t) => t.database)).toEqual(["missing"]);
  });
  it("a create also reads snapshots older than the bound (0: every one)", () => {
    expect(targetsToRead(targets, snaps, { use: "fresh", maxAgeMs: 30_000 }, at(59)).map((t) => t.database)).toEqual(["old", "missing"]);
    expect(targetsToRead(targets, snaps, { use: "fresh", maxAgeMs: 0 }, at(59)).map((t) => t.database)).toEqual([
      "fresh",
      "old",
      "missing",
    ]);
  });
});
