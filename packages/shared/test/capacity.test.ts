import { describe, expect, it } from "vitest";
import { capacityOf, type ReplicaSlots } from "../src/capacity.js";

const r = (slots: number | null, busy: number, stopping = false): ReplicaSlots => ({ slots, busy, stopping });

describe("capacityOf: do AVAILABLE runs wait for a free executor?", () => {
  it("yes when every live replica's slots are in use", () => {
    expect(capacityOf([r(1, 1)])).toEqual({ live: 1, slots: 1, busy: 1, allBusy: true });
    expect(capacityOf([r(8, 8), r(4, 4)])).toEqual({ live: 2, slots: 12, busy: 12, allBusy: true });
  });

  it("no while one replica has a free slot", () => {
    expect(capacityOf([r(8, 8), r(4, 3)])).toEqual({ live: 2, slots: 12, busy: 11, allBusy: false });
    expect(capacityOf([r(2, 0)]).allBusy).toBe(false);
  });

  it("a draining replica's free slots do not count: it claims nothing more", () => {
    expect(capacityOf([r(4, 4), r(8, 0, true)])).toEqual({ live: 2, slots: 4, busy: 4, allBusy: true });
  });

  it("no when nobody may claim (no live replica, or all draining): that is not a busy executor", () => {
    expect(capacityOf([])).toEqual({ live: 0, slots: 0, busy: 0, allBusy: false });
    expect(capacityOf([r(1, 1, true)]).allBusy).toBe(false);
  });

  it("no when a replica's slots are unknown (previous release during a rolling upgrade)", () => {
    expect(capacityOf([r(1, 1), r(null, 3)])).toEqual({ live: 2, slots: 1, busy: 1, allBusy: false });
  });

  it("more runs than slots (a replica that took over just before a restart) still counts as full", () => {
    expect(capacityOf([r(2, 3)]).allBusy).toBe(true);
  });
});
