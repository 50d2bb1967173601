/**
 * The local cloud's load balancer limits and periods (STYLE: every limit named, with its unit
 * and why). The target: a dead node out of rotation within 2 s, a new LB answering within 1 s.
 */
export interface LoadBalancerLimits {
  /** How often each backend is probed. 500 ms: two misses fit well inside the 2 s target. */
  healthCheckIntervalMs: number;
  /** A probe not answered by then failed. Shorter than the interval, so probes never overlap. */
  healthCheckTimeoutMs: number;
  /**
   * How often a new backend is probed until it first passes: a load balancer is often written
   * before the nodes' proxies serve its NodePort (or health check port), and at the full
   * interval a backend that came up just after a failed probe would wait 500 ms more to get
   * traffic. 100 ms: a few connects a second per new backend, for a short while.
   */
  newBackendProbeIntervalMs: number;
  /**
   * A new backend's grace period (cloud load balancers' health check grace period): until it
   * first passes, for this long, it is probed every `newBackendProbeIntervalMs` and a failed
   * probe is not held against it (its node may not serve the port yet; the forwarder moves on
   * from a refused dial anyway). 1 s: a node dead from the start is still out within the 2 s
   * target (grace + a fast probe + interval × (unhealthyThreshold − 1) + timeout).
   */
  newBackendGraceMs: number;
  /** Consecutive failed probes that take a backend out (AWS/GCP default 2). */
  unhealthyThreshold: number;
  /** Consecutive passed probes that put it back. 1: a node that recovered serves at once. */
  healthyThreshold: number;
  /**
   * How often the holder re-reads the state directory when no file event came (fs.watch is the
   * fast path; this catches anything it missed, e.g. events on a busy host).
   */
  statePollMs: number;
  /** How often a standby tries the host lock (the proxy's 100 ms, for the same reason). */
  holderRetryMs: number;
  /** Load balancers served at once per host: each holds listeners and probes. */
  maxLoadBalancers: number;
}

export const DEFAULT_LOAD_BALANCER_LIMITS: LoadBalancerLimits = {
  healthCheckIntervalMs: 500,
  healthCheckTimeoutMs: 400,
  newBackendProbeIntervalMs: 100,
  newBackendGraceMs: 1_000,
  unhealthyThreshold: 2,
  healthyThreshold: 1,
  statePollMs: 250,
  holderRetryMs: 100,
  maxLoadBalancers: 1_024,
};
