/**
 * Hard limits of the transport (STYLE: a named limit on everything that can grow). Defaults
 * follow hashicorp's config.go habit: each one says why it has the value it has.
 */
export interface TransportLimits {
  /**
   * Largest frame (one encoded envelope) sent or accepted; larger inbound frames close the link
   * with 1009. 4 MiB: Raft batches and snapshot chunks are cut well below it (etcd caps a request
   * at 1.5 MiB, gRPC's default receive limit is 4 MiB), and one frame is held whole in memory.
   */
  maxFrameBytes: number;
  /**
   * Largest batch: envelopes sent to one peer in the same turn of the event loop share one
   * WebSocket frame up to this many bytes (a larger envelope travels alone). 256 KiB: one frame's
   * fixed costs (framing, masking, a syscall, the receiver's parse) are paid once for hundreds of
   * small messages, yet a batch is small enough not to delay the next one noticeably.
   */
  maxBatchBytes: number;
  /**
   * Bytes a peer may have waiting: the local queue while the link is down plus the socket's
   * `bufferedAmount` while it is up. Past it, `send` fails so the caller sees backpressure.
   * 16 MiB: four maximum frames, enough to ride out a peer restart of a few seconds of Raft
   * traffic, while 4 peers of a 5-node cluster still cannot pin more than 64 MiB.
   */
  maxQueuedBytesPerPeer: number;
  /**
   * Time from dialing (or accepting) to a completed handshake. 5 s: the handshake is one round
   * trip, so this only fires on a peer that is wedged or a socket that is half open; it is
   * generous because CI machines stall, and short enough not to hold a dead link for long.
   */
  handshakeTimeoutMs: number;
  /**
   * Unauthenticated inbound sockets held at once. 64: a cluster has at most a few dozen members
   * dialing at once; anything beyond that is a scan or a flood and is refused at upgrade.
   */
  maxPendingHandshakes: number;
  /**
   * First reconnect delay after a failure. 50 ms: a peer that restarts comes back in well under
   * a second, and Raft's failover budget (DESIGN §7, "well under a second") needs it found fast.
   */
  backoffInitialMs: number;
  /**
   * Reconnect delay ceiling. 2 s: below a typical election timeout multiple, so a healed peer
   * rejoins within a couple of election rounds; above it, a dead peer costs 1 dial per 2 s.
   */
  backoffMaxMs: number;
  /**
   * Fraction of each backoff delay taken off at random, in [0, 1). 0.2: enough to spread the
   * redials of nodes that lost a peer at the same instant, small enough to keep the delay honest.
   */
  backoffJitter: number;
  /**
   * Interval of WebSocket pings on a connected link; a link whose previous ping got no pong by
   * the next one is dead and is closed (a half-open TCP connection never reports an error). 5 s:
   * detects a vanished host within 10 s at negligible cost. 0 disables.
   */
  pingIntervalMs: number;
  /**
   * After we send a close frame, how long the peer has to answer before the socket is torn down.
   * 1 s: a well-behaved peer answers in one round trip; ws's own default of 30 s would let a
   * misbehaving peer hold a socket open.
   */
  closeGraceMs: number;
  /**
   * Time a client of the node's HTTP port (health, metrics, admin, and the mesh's upgrade
   * request) has to send its request headers; then Node answers 408 and closes. 10 s: every
   * legitimate client sends them in one write; a slowloris client holds a socket no longer.
   */
  httpHeadersTimeoutMs: number;
  /**
   * Time such a client has to send its whole request, body included (admin bodies are small).
   * 30 s; Node checks both timeouts every second (`connectionsCheckingInterval`).
   */
  httpRequestTimeoutMs: number;
}

export const DEFAULT_TRANSPORT_LIMITS: Readonly<TransportLimits> = Object.freeze({
  maxFrameBytes: 4 * 1024 * 1024,
  maxBatchBytes: 256 * 1024,
  maxQueuedBytesPerPeer: 16 * 1024 * 1024,
  handshakeTimeoutMs: 5_000,
  maxPendingHandshakes: 64,
  backoffInitialMs: 50,
  backoffMaxMs: 2_000,
  backoffJitter: 0.2,
  pingIntervalMs: 5_000,
  closeGraceMs: 1_000,
  httpHeadersTimeoutMs: 10_000,
  httpRequestTimeoutMs: 30_000,
});

/** How often Node checks the HTTP port's header and request timeouts. */
const HTTP_TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/** The options of the node's HTTP server that carry the limits Node enforces itself. */
export function httpServerOptions(limits: TransportLimits): {
  headersTimeout: number;
  requestTimeout: number;
  connectionsCheckingInterval: number;
} {
  return {
    headersTimeout: limits.httpHeadersTimeoutMs,
    requestTimeout: limits.httpRequestTimeoutMs,
    connectionsCheckingInterval: Math.min(
      HTTP_TIMEOUT_CHECK_INTERVAL_MS,
      limits.httpHeadersTimeoutMs,
    ),
  };
}

/** Defaults overlaid with `overrides`, checked; a nonsensical limit fails at startup, loudly. */
export function resolveLimits(overrides: Partial<TransportLimits> = {}): TransportLimits {
  const limits: TransportLimits = { ...DEFAULT_TRANSPORT_LIMITS, ...overrides };
  const positive: (keyof TransportLimits)[] = [
    "maxFrameBytes",
    "maxBatchBytes",
    "maxQueuedBytesPerPeer",
    "handshakeTimeoutMs",
    "maxPendingHandshakes",
    "backoffInitialMs",
    "backoffMaxMs",
    "closeGraceMs",
    "httpHeadersTimeoutMs",
    "httpRequestTimeoutMs",
  ];
  for (const key of positive) {
    if (!Number.isInteger(limits[key]) || limits[key] <= 0) {
      throw new Error(`transport limit ${key} must be a positive integer, got ${limits[key]}`);
    }
  }
  if (!Number.isInteger(limits.pingIntervalMs) || limits.pingIntervalMs < 0) {
    throw new Error(`transport limit pingIntervalMs must be >= 0, got ${limits.pingIntervalMs}`);
  }
  if (!(limits.backoffJitter >= 0 && limits.backoffJitter < 1)) {
    throw new Error(`transport limit backoffJitter must be in [0, 1), got ${limits.backoffJitter}`);
  }
  if (limits.backoffMaxMs < limits.backoffInitialMs) {
    throw new Error("transport limit backoffMaxMs must be >= backoffInitialMs");
  }
  // Node refuses a header timeout longer than the whole request's
  if (limits.httpRequestTimeoutMs < limits.httpHeadersTimeoutMs) {
    throw new Error("transport limit httpRequestTimeoutMs must be >= httpHeadersTimeoutMs");
  }
  // A frame that could never fit the queue could never be sent.
  if (limits.maxQueuedBytesPerPeer < limits.maxFrameBytes) {
    throw new Error("transport limit maxQueuedBytesPerPeer must be >= maxFrameBytes");
  }
  return limits;
}
