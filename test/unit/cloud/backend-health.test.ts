/**
 * A backend's health verdict (AWS/GCP target health): `unhealthyThreshold` failed probes in a row
 * take it out, `healthyThreshold` passed ones put it back; a probe that agrees with the verdict
 * resets the streak.
 */
import { expect, it } from "vitest";
import {
  afterProbe,
  type HealthCount,
  nextProbeDelayMs,
} from "../../../actors/cloud/local/backend-health.ts";
import { DEFAULT_LOAD_BALANCER_LIMITS } from "../../../actors/cloud/local/limits.ts";

/** The verdict after each probe of `probes`, from `start`. */
function run(start: HealthCount, probes: boolean[], limits = DEFAULT_LOAD_BALANCER_LIMITS) {
  const verdicts: boolean[] = [];
  let count = start;
  for (const passed of probes) {
    count = afterProbe(count, passed, limits);
    verdicts.push(count.healthy);
  }
  return verdicts;
}

it("two failures in a row take a healthy backend out; one success puts it back", () => {
  expect(run({ healthy: true, streak: 0 }, [false, false, true])).toEqual([true, false, true]);
});

it("a failure between passes resets the streak: flapping never takes it out", () => {
  expect(run({ healthy: true, streak: 0 }, [false, true, false, true, false])).toEqual([
    true,
    true,
    true,
    true,
    true,
  ]);
});

it("thresholds of 3 and 2 count as such", () => {
  const limits = { ...DEFAULT_LOAD_BALANCER_LIMITS, unhealthyThreshold: 3, healthyThreshold: 2 };
  expect(run({ healthy: true, streak: 0 }, [false, false, false, true, true], limits)).toEqual([
    true,
    true,
    false,
    false,
    true,
  ]);
});

it("the window to take a dead backend out fits the 2 s target: interval × threshold + timeout", () => {
  const l = DEFAULT_LOAD_BALANCER_LIMITS;
  expect(l.healthCheckTimeoutMs).toBeLessThan(l.healthCheckIntervalMs);
  expect(
    l.healthCheckIntervalMs * l.unhealthyThreshold + l.healthCheckTimeoutMs,
  ).toBeLessThanOrEqual(2_000);
});

it("a new backend is probed fast until it first passes, within its window; then at the interval", () => {
  const l = DEFAULT_LOAD_BALANCER_LIMITS;
  expect(l.newBackendProbeIntervalMs).toBeLessThan(l.healthCheckIntervalMs);
  // not answered yet: the proxies may serve its port any moment now
  expect(nextProbeDelayMs(false, 0, l)).toBe(l.newBackendProbeIntervalMs);
  expect(nextProbeDelayMs(false, l.newBackendProbeWindowMs - 1, l)).toBe(
    l.newBackendProbeIntervalMs,
  );
  // answered once: the full interval, as for any backend
  expect(nextProbeDelayMs(true, 0, l)).toBe(l.healthCheckIntervalMs);
  // never answered within the window: not probed fast forever
  expect(nextProbeDelayMs(false, l.newBackendProbeWindowMs, l)).toBe(l.healthCheckIntervalMs);
});
