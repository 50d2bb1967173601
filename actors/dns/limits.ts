/**
 * The DNS server's named limits and defaults (STYLE: a named limit on everything that can grow).
 * CoreDNS with its `kubernetes` and `forward` plugins is the model; where bosun differs, why.
 */
export interface DnsLimits {
  /**
   * TTL of cluster-zone answers (seconds). CoreDNS's `kubernetes` plugin: 5 s. Short because
   * the data changes with every rollout; the server itself keeps no cache (it reads the watch).
   */
  ttlSeconds: number;
  /**
   * Largest UDP response without EDNS (bytes): RFC 1035 §4.2.1. A client advertising a larger
   * buffer with EDNS (RFC 6891) gets up to `maxUdpResponseBytes`; past that the answer is cut
   * and TC set, and the client asks again over TCP.
   */
  classicUdpBytes: number;
  /** Largest UDP response even with EDNS (bytes): 1,232, the DNS Flag Day 2020 value. */
  maxUdpResponseBytes: number;
  /** Largest query accepted (bytes); a query is a few dozen bytes, so anything past it is junk. */
  maxQueryBytes: number;
  /** Largest TCP message (bytes): the two-byte length prefix's limit (RFC 1035 §4.2.2). */
  maxTcpMessageBytes: number;
  /** TCP connections open at once; past it a new one is closed at once. */
  maxTcpConnections: number;
  /** An idle TCP connection is closed after this (ms); RFC 7766 §6.2.3 suggests seconds. */
  tcpIdleTimeoutMs: number;
  /**
   * Queries forwarded upstream and not yet answered; past it a query outside the cluster zone
   * gets SERVFAIL at once, so a flood of external names cannot pile up sockets and timers.
   */
  maxInFlightUpstream: number;
  /**
   * Encoded zone answers kept for identical queries (answer-cache.ts; emptied on every zone
   * change; the least recently used makes room past it). 10,000: every Service name of a large
   * cluster over both transports, ~2 MB.
   */
  maxCachedAnswers: number;
  /** How long an upstream gets before the next one is tried (ms); CoreDNS forward: 2 s. */
  upstreamTimeoutMs: number;
}

export const DEFAULT_DNS_LIMITS: DnsLimits = {
  ttlSeconds: 5,
  classicUdpBytes: 512,
  maxUdpResponseBytes: 1_232,
  maxQueryBytes: 4_096,
  maxTcpMessageBytes: 65_535,
  maxTcpConnections: 256,
  tcpIdleTimeoutMs: 10_000,
  maxInFlightUpstream: 1_024,
  upstreamTimeoutMs: 2_000,
  maxCachedAnswers: 10_000,
};

/** The well-known DNS port, and where a server without the right to bind it listens instead. */
export const DNS_PORT = 53;
export const FALLBACK_DNS_PORT = 10_053;
