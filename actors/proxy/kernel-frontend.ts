/**
 * One service port on one address (a cluster IP, or this node's address for a NodePort) in a
 * kernel mode: the kernel forwards through DNAT rules (kernel-rules.ts), and a userspace
 * forwarder (tcp-forwarder.ts / udp-forwarder.ts) listens on the same address:port beneath.
 *
 * - The listener is the claim: the address:port gets rules only while this proxy holds it
 *   (kube-proxy's "port opener" for NodePorts). A cluster IP that another cluster on this host,
 *   or any other program, already holds is not taken over: whoever binds first serves it, as
 *   in userspace mode.
 * - It also serves until the rules are in: a new Service answers as soon as it is bound, not
 *   one `iptables-restore` / `nft -f` later. Once the rule is written, DNAT on OUTPUT rewrites
 *   new connections before they reach the listener; connections it already accepted (and UDP
 *   flows whose conntrack entry predates the rule, until the conntrack cleanup) finish there.
 *   If the rules cannot be written at all, the listener goes on serving: userspace, not down.
 * - Listening and ruled only while an endpoint is ready (and, for a cluster IP, while this
 *   proxy holds the host's cluster IPs): with none, a TCP client is refused at once and a UDP
 *   one gets port unreachable, once the sync that removes the rule is done.
 * - The rules read the balancer's endpoints and affinity at sync time, so an endpoint change is
 *   one `update` and one batched sync.
 */
import type { DnatFrontend } from "./dnat-rules.ts";
import type { DnatSource, KernelRules } from "./kernel-rules.ts";
import type { ForwarderGauges } from "./port-stats.ts";
import type { RoundRobin } from "./round-robin.ts";
import type { ProxyProtocol } from "./service-ports.ts";
import type { TcpForwarder } from "./tcp-forwarder.ts";
import type { UdpForwarder } from "./udp-forwarder.ts";

export class KernelFrontend implements DnatSource {
  constructor(
    private readonly listener: TcpForwarder | UdpForwarder,
    readonly protocol: ProxyProtocol,
    private readonly balancer: RoundRobin,
    private readonly rules: KernelRules,
  ) {
    rules.add(this);
  }

  /** Listening and ruled while `wanted` and an endpoint is ready (again after endpoint changes). */
  update(wanted: boolean): void {
    this.listener.update(wanted);
    this.rules.requestSync();
  }

  /** Serving: in userspace until its rules are in, in the kernel after. */
  isListening(): boolean {
    return this.listener.isListening();
  }

  /** Its rules are in the kernel as last asked. */
  isProgrammed(): boolean {
    return this.listener.isListening() && this.rules.isApplied(this);
  }

  close(dropConnections: boolean): void {
    this.listener.close(dropConnections);
    this.rules.remove(this);
  }

  /** What went through userspace (before the rules, or while they could not be written). */
  gauges(): ForwarderGauges {
    return this.listener.gauges();
  }

  dnat(): DnatFrontend | null {
    if (!this.listener.isListening()) return null;
    return {
      address: this.listener.address,
      port: this.listener.port,
      protocol: this.protocol,
      endpoints: this.balancer.list(),
      affinityTimeoutMs: this.balancer.affinityTimeout(),
    };
  }
}
