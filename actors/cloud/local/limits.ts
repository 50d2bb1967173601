/**
 * The local cloud's load balancer limits and periods (STYLE: every limit named, with its unit
 * and why). The target: a dead node out of rotation within 2 s, a new LB answering within 1 s.
 */
export interface LoadBalancerLimits {
  /** How often each backend is probed. 500 ms: two misses fit well inside the 2 s target. */
  healthCheckIntervalMs: number;
  /** A probe not answered by then failed. Shorter than the interval, so probes never overlap. */
  healthCheckTimeoutMs: number;
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
  unhealthyThreshold: 2,
  healthyThreshold: 1,
  statePollMs: 250,
  holderRetryMs: 100,
  maxLoadBalancers: 1_024,
};
