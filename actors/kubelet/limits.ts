/**
 * The kubelet's named limits and periods. Kubernetes' defaults are noted where bosun differs:
 * bosun renews node leases every second (Kubernetes: 10 s) so that node failure is noticed fast.
 */
export interface KubeletLimits {
  /** How often the node Lease is renewed (Kubernetes: leaseDuration / 4 = 10 s). */
  leaseRenewIntervalMs: number;
  /**
   * The Lease's leaseDurationSeconds, as Kubernetes writes it. Informational: bosun's node
   * lifecycle controller judges a node by its Lease not moving for its own grace period (4 s).
   */
  leaseDurationSeconds: number;
  /** How often the Node's status is looked at (Kubernetes' nodeStatusUpdateFrequency: 10 s). */
  nodeStatusUpdateIntervalMs: number;
  /**
   * How often the Node's status is written when nothing in it changed (Kubernetes'
   * nodeStatusReportFrequency: 5 min): the Lease is the heartbeat, and 1,000 nodes rewriting
   * their Node every 10 s would be 100 writes a second for nothing.
   */
  nodeStatusReportFrequencyMs: number;
  /** Pause after a failed registration or renewal, doubling up to `heartbeatBackoffMaxMs`. */
  heartbeatBackoffInitialMs: number;
  heartbeatBackoffMaxMs: number;
  /** CrashLoopBackOff: the first restart delay, doubling per restart (Kubernetes: 10 s). */
  crashLoopBackoffInitialMs: number;
  /** CrashLoopBackOff ceiling (Kubernetes: 5 min). */
  crashLoopBackoffMaxMs: number;
  /** A container that ran this long without exiting resets its backoff (Kubernetes: 10 min). */
  crashLoopBackoffResetMs: number;
  /** Log files kept per container: the current one and `previous`. */
  logFilesPerContainer: number;
  /**
   * Bytes one `logs` answer (one chunk of a followed log) may carry: a whole log longer than
   * this is cut from the start (its tail is kept); a follower reads the rest in further chunks.
   */
  maxLogReadBytes: number;
  /** `kubectl logs -f` streams one kubelet serves at once; one more is refused (429). */
  maxLogFollowers: number;
  /** `kubectl exec` sessions one kubelet runs at once; one more is refused (429). */
  maxExecSessions: number;
  /**
   * A follower that has not asked for this long is forgotten (its API server went away without
   * saying so). Far above the API server's poll interval plus one ask's timeout.
   */
  logFollowerIdleMs: number;
  /**
   * How often a re-adopted container's pid is checked: it is not our child any more, so its
   * exit is noticed by polling (Kubernetes' PLEG relists every second).
   */
  adoptedExitPollMs: number;
  /** Pods one kubelet runs (Kubernetes' maxPods default). */
  maxPods: number;
  /** Status patches in flight at once across all pods. */
  maxStatusPatchesInFlight: number;
  /** A probe that takes longer than its timeoutSeconds (default 1) fails. */
  defaultProbeTimeoutMs: number;
}

export const DEFAULT_KUBELET_LIMITS: KubeletLimits = {
  leaseRenewIntervalMs: 1_000,
  leaseDurationSeconds: 40,
  nodeStatusUpdateIntervalMs: 10_000,
  nodeStatusReportFrequencyMs: 5 * 60_000,
  heartbeatBackoffInitialMs: 200,
  heartbeatBackoffMaxMs: 5_000,
  crashLoopBackoffInitialMs: 10_000,
  crashLoopBackoffMaxMs: 300_000,
  crashLoopBackoffResetMs: 600_000,
  logFilesPerContainer: 2,
  maxLogReadBytes: 1 << 20,
  maxLogFollowers: 16,
  maxExecSessions: 32,
  logFollowerIdleMs: 15_000,
  adoptedExitPollMs: 200,
  maxPods: 110,
  maxStatusPatchesInFlight: 8,
  defaultProbeTimeoutMs: 1_000,
};

/** CrashLoopBackOff after `restarts` restarts: initial, doubling, capped (Kubernetes' rule). */
export function crashLoopBackoffMs(
  restarts: number,
  limits: Pick<KubeletLimits, "crashLoopBackoffInitialMs" | "crashLoopBackoffMaxMs">,
): number {
  const exponent = Math.min(Math.max(0, restarts), 30);
  return Math.min(limits.crashLoopBackoffInitialMs * 2 ** exponent, limits.crashLoopBackoffMaxMs);
}
