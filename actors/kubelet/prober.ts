/**
 * The prober of one pod's running containers (Kubernetes' prober workers): per container, the
 * startup probe first (if any); once it succeeds, liveness and readiness. Each probe runs after
 * initialDelaySeconds, then every periodSeconds; failureThreshold consecutive failures (default
 * 3) or successThreshold consecutive successes (default 1) change its result. Results go back to
 * the pod statechart as events; timers are the injected clock's.
 */
import { fromCallback } from "xstate";
import type { JsonObject } from "../api/json.ts";
import type { Clock, TimerId } from "../system/clock.ts";
import type { ProbeKind } from "./pod-events.ts";
import { type ProbeRunner, type ProbeTarget, probeTimeoutMs } from "./probe-runner.ts";

export type ProberEvent =
  | { type: "probe.startup.succeeded"; container: string }
  | { type: "probe.startup.failed"; container: string }
  | { type: "probe.liveness.failed"; container: string }
  | { type: "probe.readiness.changed"; container: string; ready: boolean };

export interface ProbedContainer {
  name: string;
  target: ProbeTarget;
  startupProbe: JsonObject | null;
  livenessProbe: JsonObject | null;
  readinessProbe: JsonObject | null;
  /** Its startup probe already passed (the prober restarted, the container did not). */
  started: boolean;
}

export interface ProberInput {
  containers: ProbedContainer[];
  runner: ProbeRunner;
  clock: Clock;
  defaultProbeTimeoutMs: number;
  /** Each failed probe run (Kubernetes records an Unhealthy event per failure). */
  onProbeFailed?: (container: string, kind: ProbeKind, probe: JsonObject) => void;
}

const seconds = (value: unknown, fallback: number) =>
  typeof value === "number" && value >= 0 ? value : fallback;

export const proberLogic = fromCallback<{ type: string }, ProberInput>(({ input, sendBack }) => {
  let stopped = false;
  const timers = new Set<TimerId>();
  const { clock, runner } = input;

  const schedule = (fn: () => void, delayMs: number) => {
    const id = clock.setTimeout(() => {
      timers.delete(id);
      if (!stopped) fn();
    }, delayMs);
    timers.add(id);
  };

  /** Runs `probe` periodically; `onChange(ok)` when its result flips (first result included). */
  const loop = (
    container: string,
    kind: ProbeKind,
    probe: JsonObject,
    target: ProbeTarget,
    onChange: (ok: boolean) => boolean | undefined,
  ) => {
    const periodMs = seconds(probe.periodSeconds, 10) * 1000 || 10_000;
    const failureThreshold = seconds(probe.failureThreshold, 3) || 3;
    const successThreshold = seconds(probe.successThreshold, 1) || 1;
    const timeoutMs = probeTimeoutMs(probe, input.defaultProbeTimeoutMs);
    let successes = 0;
    let failures = 0;
    let result: boolean | null = null;
    const tick = () => {
      runner.run(probe, target, timeoutMs).then((ok) => {
        if (stopped) return;
        if (ok) {
          successes++;
          failures = 0;
        } else {
          failures++;
          successes = 0;
          input.onProbeFailed?.(container, kind, probe);
        }
        let next = result;
        if (ok && successes >= successThreshold) next = true;
        if (!ok && failures >= failureThreshold) next = false;
        if (next !== null && next !== result) {
          result = next;
          // onChange returning true ends this probe's loop
          if (onChange(next)) return;
        }
        schedule(tick, periodMs);
      });
    };
    schedule(tick, seconds(probe.initialDelaySeconds, 0) * 1000);
  };

  const afterStartup = (c: ProbedContainer) => {
    if (c.livenessProbe)
      loop(c.name, "Liveness", c.livenessProbe, c.target, (ok) => {
        if (ok) return false;
        sendBack({ type: "probe.liveness.failed", container: c.name });
        return true;
      });
    if (c.readinessProbe)
      loop(c.name, "Readiness", c.readinessProbe, c.target, (ok) => {
        sendBack({ type: "probe.readiness.changed", container: c.name, ready: ok });
        return false;
      });
  };

  for (const c of input.containers) {
    if (c.startupProbe && !c.started) {
      loop(c.name, "Startup", c.startupProbe, c.target, (ok) => {
        sendBack({
          type: ok ? "probe.startup.succeeded" : "probe.startup.failed",
          container: c.name,
        });
        if (ok) afterStartup(c);
        return true;
      });
    } else {
      afterStartup(c);
    }
  }
  return () => {
    stopped = true;
    for (const id of timers) clock.clearTimeout(id);
    timers.clear();
  };
});
