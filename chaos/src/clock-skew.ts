/**
 * Preload for a replica whose process clock is off: `node --import tsx --import <this file> src/main.ts`
 * with CHAOS_CLOCK_OFFSET_MS=<ms> (negative: behind). `Date.now()`, `new Date()` and `Date()` read the
 * real clock plus the offset; dates built from a value (`new Date(x)`) and the monotonic clocks
 * (`performance.now`, timers) are untouched, as they are on a host whose wall clock is wrong. The server
 * needs no switch for it; the chaos harness starts some replicas this way (fault kind `clock-skew`).
 */
const offset = Number(process.env.CHAOS_CLOCK_OFFSET_MS ?? "0");

if (Number.isFinite(offset) && offset !== 0) {
  const RealDate = Date;
  const now = () => RealDate.now() + offset;
  const SkewedDate = new Proxy(RealDate, {
    construct(target, args, newTarget) {
      return Reflect.construct(target, args.length === 0 ? [now()] : args, newTarget);
    },
    // Date() called as a function returns the current time as a string.
    apply() {
      return new RealDate(now()).toString();
    },
    get(target, prop, receiver) {
      if (prop === "now") return now;
      return Reflect.get(target, prop, receiver);
    },
  });
  globalThis.Date = SkewedDate;
}

export {};
