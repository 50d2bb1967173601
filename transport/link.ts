/**
 * What the mesh keeps per peer: the link statechart, the socket it currently rides on, the
 * frames waiting for it, and the counters `/metrics` will read.
 */
import type { Actor } from "xstate";
import type { PeerIdentity } from "./peer-identity.ts";
import type { LinkRole, PeerLinkState, peerLinkMachine } from "./peer-link.ts";
import type { Session } from "./session.ts";

export interface LinkCounters {
  /** Frames written to a socket (a duplicated frame counts twice). */
  sentFrames: number;
  sentBytes: number;
  /** Frames read off an authenticated socket, before fault rules. */
  receivedFrames: number;
  receivedBytes: number;
  /** Envelopes handed to `onEnvelope` handlers. */
  deliveredEnvelopes: number;
  /** `send` calls refused because the peer's queue was full. */
  rejectedSends: number;
  /** Times the link reached `connected`. */
  connects: number;
  /** Sockets of this peer closed by us for bad input (malformed, spoofed, too big, flood). */
  badInputCloses: number;
  /** Handshakes naming this peer that failed authentication. */
  authFailures: number;
  faultDropped: number;
  faultDuplicated: number;
  faultDelayed: number;
}

export interface Link {
  readonly peerId: string;
  address: string;
  readonly role: LinkRole;
  readonly actor: Actor<typeof peerLinkMachine>;
  /** The socket the link rides on now; sockets that were replaced or closed are detached. */
  session: Session | undefined;
  /** Encoded frames waiting for `connected`, in send order. */
  queue: Uint8Array[];
  queuedBytes: number;
  /** Encoded envelopes for the frame being gathered this turn (connected links only). */
  batch: Uint8Array[];
  batchBytes: number;
  batchScheduled: boolean;
  /** Outbound bytes held back by a `delay` fault rule; they count against the queue limit. */
  delayedOutBytes: number;
  /** Inbound bytes held back by a `delay` fault rule; bounded the same way. */
  delayedInBytes: number;
  readonly counters: LinkCounters;
  /** Who authenticated on the current (or last) socket; see peer-identity.ts. */
  identity: PeerIdentity | undefined;
}

/** A read-only view of one link for status pages and `/metrics`. */
export interface LinkStatus extends LinkCounters {
  state: PeerLinkState;
  role: LinkRole;
  address: string;
  attempts: number;
  lastError?: string;
  /** Delay of the current or last backoff. */
  retryDelayMs: number;
  queuedFrames: number;
  queuedBytes: number;
  /** Bytes the socket has accepted but not yet written to the kernel. */
  bufferedBytes: number;
}

export function newCounters(): LinkCounters {
  return {
    sentFrames: 0,
    sentBytes: 0,
    receivedFrames: 0,
    receivedBytes: 0,
    deliveredEnvelopes: 0,
    rejectedSends: 0,
    connects: 0,
    badInputCloses: 0,
    authFailures: 0,
    faultDropped: 0,
    faultDuplicated: 0,
    faultDelayed: 0,
  };
}

export function linkState(link: Link): PeerLinkState {
  return link.actor.getSnapshot().value as PeerLinkState;
}

/** Connected and riding an authenticated socket: frames can be written now. */
export function isWritable(link: Link): boolean {
  const session = link.session;
  return (
    linkState(link) === "connected" &&
    session !== undefined &&
    session.phase === "open" &&
    !session.closing &&
    session.ws.readyState === session.ws.OPEN
  );
}

export function linkStatus(link: Link): LinkStatus {
  const { context } = link.actor.getSnapshot();
  const status: LinkStatus = {
    state: linkState(link),
    role: link.role,
    address: link.address,
    attempts: context.attempts,
    retryDelayMs: context.retryDelayMs,
    queuedFrames: link.queue.length,
    queuedBytes: link.queuedBytes + link.delayedOutBytes,
    bufferedBytes: link.session?.ws.bufferedAmount ?? 0,
    ...link.counters,
  };
  if (context.lastError !== undefined) status.lastError = context.lastError;
  return status;
}
