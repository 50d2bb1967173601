/**
 * The outbound side of one link: encoded envelopes join the current batch when the link is
 * connected (the batch becomes one WebSocket frame once this round of I/O callbacks is done, or
 * as soon as it reaches `maxBatchBytes`), wait in order in the link's queue when it is not, and
 * are refused — so the caller sees the backpressure — once the socket's `bufferedAmount` plus
 * everything held for the peer would pass `maxQueuedBytesPerPeer`.
 */
import { isWritable, type Link } from "./link.ts";

export type SendResult = { ok: true } | { ok: false; error: string };

/** Bytes already held for the peer: in the socket's buffer, the queue, and delay faults. */
export function heldBytes(link: Link): number {
  const buffered = isWritable(link) ? link.session!.ws.bufferedAmount : 0;
  return buffered + link.queuedBytes + link.batchBytes + link.delayedOutBytes;
}

export function queueFull(link: Link, maxQueuedBytes: number): SendResult {
  link.counters.rejectedSends++;
  return { ok: false, error: `queue full for peer ${link.peerId} (${maxQueuedBytes} bytes)` };
}

/** Writes `frame` now if the link is connected, else queues it; within the peer's limit. */
export function transmit(
  link: Link,
  frame: Uint8Array,
  limits: { maxQueuedBytesPerPeer: number; maxBatchBytes: number; maxFrameBytes: number },
): SendResult {
  const maxQueuedBytes = limits.maxQueuedBytesPerPeer;
  if (heldBytes(link) + frame.length > maxQueuedBytes) return queueFull(link, maxQueuedBytes);
  if (isWritable(link)) {
    if (link.queue.length > 0) flush(link); // anything still queued goes first: send order holds
    // a batch is one frame: it may never outgrow what the receiver accepts
    const batchLimit = Math.min(limits.maxBatchBytes, limits.maxFrameBytes);
    if (link.batchBytes + frame.length > batchLimit) writeBatch(link);
    link.batch.push(frame);
    link.batchBytes += frame.length;
    if (!link.batchScheduled) {
      link.batchScheduled = true;
      // setImmediate, not a microtask: everything the callbacks of this poll phase send (a
      // leader answering many peers' messages) leaves in one frame, one write syscall, instead
      // of one per callback; the wait is only the rest of this phase's callbacks
      setImmediate(() => {
        link.batchScheduled = false;
        writeBatch(link);
      });
    }
  } else {
    link.queue.push(frame);
    link.queuedBytes += frame.length;
  }
  return { ok: true };
}

/** On connect, queued frames go out in order, each exactly once. */
export function flush(link: Link): void {
  writeBatch(link);
  const frames = link.queue;
  link.queue = [];
  link.queuedBytes = 0;
  for (const frame of frames) write(link, frame);
}

/** The current batch as one frame. A batch whose socket went away meanwhile is requeued. */
export function writeBatch(link: Link): void {
  if (link.batch.length === 0) return;
  const batch = link.batch;
  const bytes = link.batchBytes;
  link.batch = [];
  link.batchBytes = 0;
  if (!isWritable(link)) {
    link.queue.unshift(...batch);
    link.queuedBytes += bytes;
    return;
  }
  write(link, batch.length === 1 ? (batch[0] as Uint8Array) : Buffer.concat(batch, bytes));
}

function write(link: Link, frame: Uint8Array): void {
  link.session!.ws.send(frame);
  link.counters.sentFrames++;
  link.counters.sentBytes += frame.length;
}
