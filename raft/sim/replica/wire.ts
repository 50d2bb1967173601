/**
 * A simulated process's transport: the actor system's `Wire` over the simulator's network.
 * Envelopes are encoded with the real codec (copy semantics and shape checks, as on the mesh)
 * and travel as bytes on FIFO links, like the WebSocket link between two nodes.
 *
 * As on the real mesh, a send to a peer whose process is down "succeeds" (the link would queue
 * it; here it is lost: a restarted process starts with fresh links), `isConnected` says whether
 * the peer's process is up, and the peers of a crashed process hear its connection close.
 */
import type { SendResult, Wire } from "../../../actors/system/wire.ts";
import { decodeBatch, encodeEnvelope } from "../../../transport/codec.ts";
import { type Envelope, nodeOf } from "../../../transport/envelope.ts";
import type { ProcessClock } from "./timeline.ts";

/** What the wire needs from the simulation. */
export interface WireNetwork {
  /** Puts bytes from `from` to node `to` on the network (it may lose them). */
  transmit(from: string, to: string, bytes: Uint8Array): void;
  isKnown(nodeId: string): boolean;
  isUp(nodeId: string): boolean;
}

export class ProcessWire implements Wire {
  private handler: ((envelope: Envelope, fromNodeId: string) => void) | null = null;
  private readonly peerDownHandlers: ((nodeId: string) => void)[] = [];

  constructor(
    private readonly network: WireNetwork,
    readonly nodeId: string,
    private readonly clock: ProcessClock,
  ) {}

  send(envelope: Envelope): SendResult {
    if (!this.clock.alive) return { ok: false, error: "process is gone" };
    const to = nodeOf(envelope.to);
    if (!this.network.isKnown(to)) return { ok: false, error: `unknown peer ${to}` };
    const encoded = encodeEnvelope(envelope);
    if (!encoded.ok) return { ok: false, error: encoded.reason };
    this.network.transmit(this.nodeId, to, encoded.bytes);
    return { ok: true };
  }

  onEnvelope(handler: (envelope: Envelope, fromNodeId: string) => void): void {
    this.handler = handler;
  }

  isConnected(nodeId: string): boolean {
    return this.network.isUp(nodeId);
  }

  onPeerDown(handler: (nodeId: string) => void): void {
    this.peerDownHandlers.push(handler);
  }

  /** Bytes arrived from `from` (the simulator checked the process is running). */
  deliver(bytes: Uint8Array, from: string): void {
    const decoded = decodeBatch(bytes, Number.POSITIVE_INFINITY);
    if (!decoded.ok) throw new Error(`sim wire: ${decoded.reason}`);
    for (const item of decoded.items) this.handler?.(item.envelope, from);
  }

  /** The connection to `nodeId` closed (its process died). */
  peerDown(nodeId: string): void {
    for (const handler of [...this.peerDownHandlers]) handler(nodeId);
  }
}
