/**
 * The outbound side of one link: frames go straight to the socket when the link is connected,
 * wait in order in the link's queue when it is not, and are refused — so the caller sees the
 * backpressure — once the socket's `bufferedAmount` plus everything held for the peer would pass
 * `maxQueuedBytesPerPeer`.
 */
import { isWritable, type Link } from "./link.ts";

export type SendResult = { ok: true } | { ok: false; error: string };

/** Bytes already held for the peer: in the socket's buffer, the queue, and delay faults. */
export function heldBytes(link: Link): number {
  const buffered = isWritable(link) ? link.session!.ws.bufferedAmount : 0;
  return buffered + link.queuedBytes + link.delayedOutBytes;
}

export function queueFull(link: Link, maxQueuedBytes: number): SendResult {
  link.counters.rejectedSends++;
  return { ok: false, error: `queue full for peer ${link.peerId} (${maxQueuedBytes} bytes)` };
}

/** Writes `frame` now if the link is connected, else queues it; within the peer's limit. */
export function transmit(link: Link, frame: Uint8Array, maxQueuedBytes: number): SendResult {
  if (heldBytes(link) + frame.length > maxQueuedBytes) return queueFull(link, maxQueuedBytes);
  if (isWritable(link)) {
    if (link.queue.length > 0) flush(link); // anything still queued goes first: send order holds
    write(link, frame);
  } else {
    link.queue.push(frame);
    link.queuedBytes += frame.length;
  }
  return { ok: true };
}

/** On connect, queued frames go out in order, each exactly once. */
export function flush(link: Link): void {
  const frames = link.queue;
  link.queue = [];
  link.queuedBytes = 0;
  for (const frame of frames) write(link, frame);
}

function write(link: Link, frame: Uint8Array): void {
  link.session!.ws.send(frame);
  link.counters.sentFrames++;
  link.counters.sentBytes += frame.length;
}
