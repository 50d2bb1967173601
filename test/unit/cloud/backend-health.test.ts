/**
 * A backend's health verdict (AWS/GCP target health): `unhealthyThreshold` failed probes in a row
 * take it out, `healthyThreshold` passed ones put it back; a probe that agrees with the verdict
 * resets the streak.
 */
import { expect, it } from "vitest";
import {
  afterBackendProbe,
  afterProbe,
  type HealthCount,
  inGracePeriod,
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

it("a new backend's grace period: failures before its first pass do not take it out, for a while", () => {
  const l = DEFAULT_LOAD_BALANCER_LIMITS;
  const fresh = { healthy: true, streak: 0 };
  // its node's proxy does not serve the NodePort yet: still in, however many fast probes fail
  expect(inGracePeriod(false, 0, l)).toBe(true);
  let count = fresh;
  for (let i = 0; i < l.newBackendGraceMs / l.newBackendProbeIntervalMs; i++)
    count = afterBackendProbe(count, false, inGracePeriod(false, i * 100, l), l);
  expect(count).toEqual(fresh);
  // once it has answered, or the grace is over, failures count as for any backend
  expect(inGracePeriod(true, 0, l)).toBe(false);
  expect(inGracePeriod(false, l.newBackendGraceMs, l)).toBe(false);
  expect(run(fresh, [false, false]).at(-1)).toBe(false);
  // a node dead from the start is still out within the 2 s target
  expect(
    l.newBackendGraceMs +
      l.newBackendProbeIntervalMs +
      l.healthCheckIntervalMs * (l.unhealthyThreshold - 1) +
      l.healthCheckTimeoutMs,
  ).toBeLessThanOrEqual(2_000);
});

it("under Local, a new backend that starts out gets in on its first pass, grace or not", () => {
  const out = { healthy: false, streak: 0 };
  const l = DEFAULT_LOAD_BALANCER_LIMITS;
  expect(afterBackendProbe(out, true, true, l).healthy).toBe(true);
  expect(afterBackendProbe(out, false, true, l).healthy).toBe(false);
});
