/**
 * The UDP flow table of one service port (kube-proxy userspace's `ClientCache`): a flow per
 * client address (`ip:port`), each bound to one endpoint, living while it carries datagrams at
 * least once per idle timeout. Pure: the flow's socket is the caller's `F`, and time comes in as
 * `nowMs`.
 *
 * - `dropEndpoint`: every flow to an endpoint that went away is handed back at once, to close.
 * - Bounded: past `maxFlows` the least recently used flow is evicted (handed back by `add`).
 */

interface FlowEntry<F> {
  flow: F;
  endpoint: string;
  lastActiveMs: number;
}

export class UdpFlowTable<F> {
  /** Client address → flow, least recently active first (Map insertion order). */
  private readonly flows = new Map<string, FlowEntry<F>>();

  constructor(
    private readonly idleTimeoutMs: number,
    private readonly maxFlows: number,
  ) {}

  size(): number {
    return this.flows.size;
  }

  get(client: string): F | undefined {
    return this.flows.get(client)?.flow;
  }

  endpointOf(client: string): string | undefined {
    return this.flows.get(client)?.endpoint;
  }

  /** A datagram went either way on the client's flow. */
  touch(client: string, nowMs: number): void {
    const entry = this.flows.get(client);
    if (entry === undefined) return;
    entry.lastActiveMs = nowMs;
    this.flows.delete(client);
    this.flows.set(client, entry);
  }

  /** Adds a flow; returns the flows evicted to make room (to close). */
  add(client: string, endpoint: string, flow: F, nowMs: number): F[] {
    const evicted: F[] = [];
    const existing = this.flows.get(client);
    if (existing !== undefined) {
      this.flows.delete(client);
      evicted.push(existing.flow);
    }
    this.flows.set(client, { flow, endpoint, lastActiveMs: nowMs });
    while (this.flows.size > this.maxFlows) {
      const [oldest, entry] = this.flows.entries().next().value as [string, FlowEntry<F>];
      this.flows.delete(oldest);
      evicted.push(entry.flow);
    }
    return evicted;
  }

  /** Removes one flow (its socket failed); returns it. */
  remove(client: string): F | undefined {
    const entry = this.flows.get(client);
    this.flows.delete(client);
    return entry?.flow;
  }

  /** Removes and returns the flows idle for longer than the timeout. */
  expire(nowMs: number): F[] {
    const out: F[] = [];
    for (const [client, entry] of this.flows) {
      // least recently active first: the first live one ends the scan
      if (nowMs - entry.lastActiveMs <= this.idleTimeoutMs) break;
      this.flows.delete(client);
      out.push(entry.flow);
    }
    return out;
  }

  /** Removes and returns every flow to an endpoint not in `live`. */
  dropEndpointsNotIn(live: ReadonlySet<string>): F[] {
    const out: F[] = [];
    for (const [client, entry] of this.flows) {
      if (live.has(entry.endpoint)) continue;
      this.flows.delete(client);
      out.push(entry.flow);
    }
    return out;
  }

  /** Removes and returns every flow. */
  clear(): F[] {
    const out = [...this.flows.values()].map((e) => e.flow);
    this.flows.clear();
    return out;
  }

  /** When the oldest flow falls idle, or null with no flows: the next sweep's due time. */
  nextExpiryMs(): number | null {
    const first = this.flows.values().next();
    return first.done ? null : first.value.lastActiveMs + this.idleTimeoutMs;
  }
}
