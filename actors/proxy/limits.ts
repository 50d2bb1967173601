/**
 * The proxy's named limits and periods (STYLE: a named limit on everything that can grow).
 * kube-proxy's userspace mode is the model; where bosun's value differs, the reason is here.
 */
export interface ProxyLimits {
  /**
   * Dial timeout per attempt of a TCP connection to an endpoint; the length of the list is the
   * number of endpoints tried before the client is reset. kube-proxy userspace's
   * `EndpointDialTimeouts` (250 ms, 500 ms, 1 s, 2 s): a dead pod that still listed as ready
   * costs the client a retry, not a failed request; a refused dial moves on at once.
   */
  dialTimeoutsMs: number[];
  /**
   * Connections proxied at once per service port (each holds two sockets, so two fds). 4,096:
   * twice what one echo pod serves comfortably, and 10 such services stay under a 20,000 fd
   * limit. Past it a new connection is reset at once rather than queued.
   */
  maxConnectionsPerServicePort: number;
  /**
   * How long an idle UDP flow (client address → endpoint) lives: kube-proxy's `--udp-timeout`
   * (default 250 ms in its userspace mode). Short because a flow holds a socket and a DNS-like
   * request/response is over in a few ms; a long-lived UDP client just opens a new flow.
   */
  udpIdleTimeoutMs: number;
  /**
   * UDP flows (one socket each) per service port. 1,024: a flow per client address, and a busy
   * client set is a few hundred; past it the least recently used flow is closed.
   */
  maxUdpFlowsPerServicePort: number;
  /** Largest datagram forwarded (bytes); a UDP payload cannot exceed 65,507 over IPv4. */
  maxDatagramBytes: number;
  /**
   * ClientIP affinity entries per service port; past it the least recently used client loses
   * its affinity (it is re-balanced, not refused). 10,000: every pod of a large cluster.
   */
  maxAffinityEntriesPerServicePort: number;
  /**
   * How often a standby proxy tries the host's cluster-IP lock. 100 ms: the holder's death
   * must be noticed and its listeners taken over within 1 s (DESIGN §7); a try is one bind()
   * of an abstract unix socket, nothing on the network.
   */
  holderRetryMs: number;
  /** Pause before a listener that failed to bind (address in use, …) tries again. */
  listenRetryMs: number;
}

/** kube-proxy's `sessionAffinityConfig.clientIP.timeoutSeconds` default: 3 hours. */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10_800;

export const DEFAULT_PROXY_LIMITS: ProxyLimits = {
  dialTimeoutsMs: [250, 500, 1_000, 2_000],
  maxConnectionsPerServicePort: 4_096,
  udpIdleTimeoutMs: 250,
  maxUdpFlowsPerServicePort: 1_024,
  maxDatagramBytes: 65_507,
  maxAffinityEntriesPerServicePort: 10_000,
  holderRetryMs: 100,
  listenRetryMs: 500,
};
