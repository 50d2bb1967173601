/**
 * Active health checks of a load balancer's backends (the nodes): each backend is probed every
 * `healthCheckIntervalMs` — an HTTP GET of kube-proxy's health server on `healthCheckNodePort`
 * under `externalTrafficPolicy: Local` (200 = has local endpoints), else a TCP connect to the
 * NodePort — and flips after `unhealthyThreshold` failures or `healthyThreshold` passes.
 *
 * A new backend is probed at once and then, in its grace period (until it first passes, at most
 * `newBackendGraceMs`), every `newBackendProbeIntervalMs` without its failures counting: a
 * load balancer is written before the proxies serve its NodePort, and the backend is to get
 * traffic as soon as they do, not a full interval later nor after being taken out meanwhile.
 *
 * A backend checked over TCP starts healthy (the NodePort is there on every live node, and the
 * forwarder moves on from a refused dial anyway), one checked over HTTP starts unhealthy: under
 * `Local` a node without the Service's pods must not get traffic before it says so.
 */
import { request } from "node:http";
import { connect } from "node:net";
import type { Clock, TimerId } from "../../system/clock.ts";
import type { LoadBalancerLimits } from "./limits.ts";

export interface ProbeTarget {
  kind: "http" | "tcp";
  address: string;
  port: number;
}

export interface HealthCount {
  healthy: boolean;
  /** Consecutive probes disagreeing with `healthy`. */
  streak: number;
}

/** The verdict after one probe. Pure. */
export function afterProbe(
  current: HealthCount,
  passed: boolean,
  limits: Pick<LoadBalancerLimits, "unhealthyThreshold" | "healthyThreshold">,
): HealthCount {
  if (passed === current.healthy) return { healthy: current.healthy, streak: 0 };
  const streak = current.streak + 1;
  const threshold = current.healthy ? limits.unhealthyThreshold : limits.healthyThreshold;
  return streak >= threshold
    ? { healthy: passed, streak: 0 }
    : { healthy: current.healthy, streak };
}

/** Whether a backend that started `sinceStartMs` ago is in its grace period. Pure. */
export function inGracePeriod(
  passedOnce: boolean,
  sinceStartMs: number,
  limits: Pick<LoadBalancerLimits, "newBackendGraceMs">,
): boolean {
  return !passedOnce && sinceStartMs < limits.newBackendGraceMs;
}

/** The verdict after one probe, a failure in the grace period not counting. Pure. */
export function afterBackendProbe(
  current: HealthCount,
  passed: boolean,
  inGrace: boolean,
  limits: Pick<LoadBalancerLimits, "unhealthyThreshold" | "healthyThreshold">,
): HealthCount {
  return !passed && inGrace ? current : afterProbe(current, passed, limits);
}

export function probe(target: ProbeTarget, timeoutMs: number, clock: Clock): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      resolve(ok);
    };
    const timer = clock.setTimeout(() => {
      finish(false);
      cleanup();
    }, timeoutMs);
    let cleanup: () => void = () => {};
    if (target.kind === "tcp") {
      const socket = connect({ host: target.address, port: target.port });
      cleanup = () => socket.destroy();
      socket.once("connect", () => {
        socket.destroy();
        finish(true);
      });
      socket.once("error", () => finish(false));
    } else {
      const req = request(
        { host: target.address, port: target.port, path: "/healthz", agent: false },
        (res) => {
          res.resume();
          finish(res.statusCode === 200);
        },
      );
      cleanup = () => req.destroy();
      req.once("error", () => finish(false));
      req.end();
    }
  });
}

/** One backend's prober: runs until `stop()`, calls `onChange` when the verdict flips. */
export class BackendHealth {
  private count: HealthCount;
  private timer: TimerId | null = null;
  private stopped = false;
  private passedOnce = false;
  private readonly startedMs: number;

  constructor(
    readonly target: ProbeTarget,
    private readonly clock: Clock,
    private readonly limits: LoadBalancerLimits,
    private readonly onChange: () => void,
  ) {
    this.count = { healthy: target.kind === "tcp", streak: 0 };
    this.startedMs = clock.nowMs();
    this.round();
  }

  healthy(): boolean {
    return this.count.healthy;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private round(): void {
    probe(this.target, this.limits.healthCheckTimeoutMs, this.clock).then((passed) => {
      if (this.stopped) return;
      const before = this.count.healthy;
      const inGrace = () =>
        inGracePeriod(this.passedOnce, this.clock.nowMs() - this.startedMs, this.limits);
      this.count = afterBackendProbe(this.count, passed, inGrace(), this.limits);
      if (this.count.healthy !== before) this.onChange();
      this.passedOnce ||= passed;
      const delayMs = inGrace()
        ? this.limits.newBackendProbeIntervalMs
        : this.limits.healthCheckIntervalMs;
      this.timer = this.clock.setTimeout(() => this.round(), delayMs);
    });
  }
}
