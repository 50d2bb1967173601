import type { SendResult, Wire } from "../../actors/system/wire.ts";
import { decodeBatch, encodeEnvelope } from "../../transport/codec.ts";
import { type Envelope, nodeOf } from "../../transport/envelope.ts";

/**
 * An in-memory mesh for in-process clusters: envelopes are encoded and decoded with the real
 * codec (so copy semantics and shape checks hold) and delivered on a later microtask. Nodes can
 * be cut off to model a crashed or partitioned process.
 */
export class MemoryWireHub {
  private readonly handlers = new Map<string, (envelope: Envelope, from: string) => void>();
  private readonly down = new Set<string>();

  wireFor(nodeId: string): Wire {
    return {
      send: (envelope) => this.send(nodeId, envelope),
      onEnvelope: (handler) => {
        this.handlers.set(nodeId, handler);
      },
    };
  }

  /** Cuts a node off (both directions) or brings it back. */
  setDown(nodeId: string, isDown: boolean): void {
    if (isDown) this.down.add(nodeId);
    else this.down.delete(nodeId);
  }

  private send(from: string, envelope: Envelope): SendResult {
    const to = nodeOf(envelope.to);
    if (this.down.has(from) || this.down.has(to) || !this.handlers.has(to)) {
      return { ok: false, error: `no link to ${to}` };
    }
    const encoded = encodeEnvelope(envelope);
    if (!encoded.ok) return { ok: false, error: encoded.reason };
    queueMicrotask(() => {
      if (this.down.has(from) || this.down.has(to)) return;
      const decoded = decodeBatch(encoded.bytes, Number.POSITIVE_INFINITY);
      if (!decoded.ok) throw new Error(`memory wire: ${decoded.reason}`);
      for (const item of decoded.items) this.handlers.get(to)?.(item.envelope, from);
    });
    return { ok: true };
  }
}
