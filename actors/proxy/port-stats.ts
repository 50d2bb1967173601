/**
 * Counters of one service port, kept by its forwarders and read by `/metrics`
 * (proxy-metrics.ts). Totals only grow; the gauges (`activeConnections`, `udpFlows`) are read
 * live from the forwarders.
 */
export interface PortStats {
  connectionsTotal: number;
  /** Connections reset at once: over the per-port limit, or no endpoint could be dialed. */
  connectionsRejected: number;
  /** Dials to an endpoint that failed (refused, timed out); the connection moved on. */
  dialFailures: number;
  /** Bytes of connections that have closed, client → endpoint and endpoint → client. */
  bytesFromClients: number;
  bytesToClients: number;
  udpFlowsTotal: number;
  datagramsFromClients: number;
  datagramsToClients: number;
}

export function emptyPortStats(): PortStats {
  return {
    connectionsTotal: 0,
    connectionsRejected: 0,
    dialFailures: 0,
    bytesFromClients: 0,
    bytesToClients: 0,
    udpFlowsTotal: 0,
    datagramsFromClients: 0,
    datagramsToClients: 0,
  };
}

/** What a forwarder reports live, on top of its PortStats. */
export interface ForwarderGauges {
  activeConnections: number;
  /** Bytes of the connections still open, client → endpoint and back. */
  openBytesFromClients: number;
  openBytesToClients: number;
  udpFlows: number;
}
