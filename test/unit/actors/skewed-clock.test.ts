/**
 * The clock-skew failpoint: a node's monotonic time runs at `rate` and stays continuous when the
 * rate changes; its timers fire by its own time; the wall clock steps by the offset.
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../actors/system/clock.ts";
import { parseClockSkew, SkewedClock } from "../../../actors/system/skewed-clock.ts";

describe("SkewedClock", () => {
  it("runs at its rate, continuously across a change, and fires timers by its own time", () => {
    const real = new ManualClock(1_000);
    const clock = new SkewedClock(real);
    expect(clock.nowMs()).toBe(1_000);
    clock.set({ rate: 0.5, wallOffsetMs: 3_600_000 });
    real.advance(1_000);
    expect(clock.nowMs()).toBe(1_500);
    expect(clock.wallMs()).toBe(real.wallMs() + 3_600_000 - 500);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.nowMs()), 100); // 100 ms of its time: 200 ms real
    real.advance(199);
    expect(fired).toEqual([]);
    real.advance(1);
    expect(fired).toEqual([1_600]);
    clock.set({ rate: 1, wallOffsetMs: 0 });
    real.advance(100);
    expect(clock.nowMs()).toBe(1_700);
  });

  it("accepts only rates and offsets a node can live with", () => {
    expect(parseClockSkew({})).toEqual({ rate: 1, wallOffsetMs: 0 });
    expect(parseClockSkew({ rate: 2 })).toEqual({ rate: 2, wallOffsetMs: 0 });
    expect(() => parseClockSkew({ rate: 0 })).toThrow(RangeError);
    expect(() => parseClockSkew({ rate: "fast" })).toThrow(RangeError);
    expect(() => parseClockSkew({ wallOffsetMs: Number.POSITIVE_INFINITY })).toThrow(RangeError);
  });
});
