/**
 * The node's WebSocket mesh (DESIGN §4): one `ws` server on a `node:http` server (so the port
 * also serves HTTP), one authenticated link per peer, msgpack envelopes, hard limits, fault rules.
 *
 * Everything that arrives from the network is untrusted: a bad frame, a failed handshake or a
 * flood closes that one socket with a close code and a logged reason, and every handler is
 * wrapped so nothing a peer sends can crash the process.
 */

import { randomInt } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { isIP, type Server as NetServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { createServer as createTlsServer, TLSSocket, type Server as TlsServer } from "node:tls";
import type { Logger } from "pino";
import type WebSocket from "ws";
import { WebSocketServer } from "ws";
import { type Actor, createActor, type InspectionEvent } from "xstate";
import type { Clock, TimerId } from "../actors/system/clock.ts";
import { deriveSeed, SeededRandom } from "../actors/system/random.ts";
import { admitFrame } from "./admission.ts";
import { decodeFrame, decodeValue, encodeEnvelope, encodeValue } from "./codec.ts";
import { type Envelope, nodeOf } from "./envelope.ts";
import { type Direction, decide, type FaultRule, parseFaultRules } from "./faults.ts";
import { makeChallenge, newNonce } from "./handshake.ts";
import { acceptorStep, dialerStep } from "./handshake-flow.ts";
import { type JoinSigner, serveJoinCertificate } from "./join-certificate.ts";
import { JOIN_CERTIFICATE_PATH } from "./join-protocol.ts";
import { httpServerOptions, resolveLimits, type TransportLimits } from "./limits.ts";
import { type Link, type LinkStatus, linkStatus, newCounters } from "./link.ts";
import { createMeshListener } from "./mesh-listener.ts";
import { type MeshSocketClass, meshSocketClass } from "./mesh-socket.ts";
import { MeshTls } from "./mesh-tls.ts";
import { type MeshTlsMaterial, nodeCommonName } from "./node-certificate.ts";
import { flush, heldBytes, queueFull, type SendResult, transmit } from "./outbox.ts";
import {
  certificateIdentity,
  ownIdentity,
  type PeerIdentity,
  peerCertificateOf,
  tokenIdentity,
} from "./peer-identity.ts";
import { peerLinkMachine } from "./peer-link.ts";
import {
  CLOSE,
  cancelTimer,
  closeSocket,
  frameBytes,
  newSession,
  type Session,
} from "./session.ts";

export const MESH_PATH = "/mesh";
const NODE_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Client members (ids starting `client-`: a benchmark, `bosun chaos`, a CLI joining for a while)
 * are not in anyone's peer list: they always dial, and a node started with `acceptClients` takes
 * them in after the same token handshake, forgetting them when their socket closes.
 */
export const CLIENT_ID_PREFIX = "client-";
/** Client links one node holds at once; past it, new clients are refused at the handshake. */
export const MAX_CLIENT_LINKS = 1_024;

export function isClientId(id: string): boolean {
  return id.startsWith(CLIENT_ID_PREFIX);
}

/** One link per pair: a client always dials; between members, the smaller id dials. */
export function linkRole(self: string, peer: string): "dialer" | "acceptor" {
  if (isClientId(self) !== isClientId(peer)) return isClientId(self) ? "dialer" : "acceptor";
  return self < peer ? "dialer" : "acceptor";
}

export type { SendResult };
/**
 * `identity` is the authenticated peer (peer-identity.ts): on a TLS mesh its certificate's CN,
 * `system:node:<id>`. This is where an authorizer (RBAC's Node authorizer) learns who sent an
 * envelope; `envelope.from` is only checked to name that same node.
 */
export type EnvelopeHandler = (
  envelope: Envelope,
  fromNodeId: string,
  identity: PeerIdentity,
) => void;

export interface MeshOptions {
  nodeId: string;
  host: string;
  /** 0 picks an ephemeral port; `start()` reports the one bound. */
  port: number;
  /** Every other cluster member: nodeId → "host:port". Unknown nodes are refused. */
  peers: Record<string, string>;
  /** The cluster join token; only HMACs of it cross the wire. */
  token: string;
  /** Fault rules are refused unless the node was started with faults enabled (DESIGN §4). */
  faultsEnabled: boolean;
  limits?: Partial<TransportLimits>;
  clock: Clock;
  logger: Logger;
  /** Serves every non-WebSocket request on the same port (health, metrics, the API). */
  httpHandler?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Seeds backoff jitter and fault decisions, so a chaos run replays. Random if omitted. */
  seed?: number;
  /** Take in client members (ids `client-…`) that prove the token; servers do. */
  acceptClients?: boolean;
  /** xstate inspection hook for the link actors. */
  inspect?: (event: InspectionEvent) => void;
  /**
   * Mutual TLS 1.3 on every link (mesh-tls.ts): this node's certificate and the cluster CA.
   * Then a plaintext peer, or one whose certificate another CA signed, is refused; the token
   * handshake still runs inside TLS and must name the node the certificate names.
   */
  tls?: MeshTlsMaterial;
  /** A server holding the cluster CA: answers join-certificate requests (join-protocol.ts). */
  joinSigner?: JoinSigner;
}

/** Mesh-wide counters, for what cannot be pinned on a known peer. */
export interface MeshCounters {
  handshakesRejected: number;
  upgradesRefused: number;
  pendingHandshakes: number;
  handlerErrors: number;
  /** TLS handshakes refused (no certificate, a foreign CA, an expired one) and plaintext upgrades. */
  tlsRefused: number;
}

export class Mesh {
  readonly nodeId: string;
  private readonly options: MeshOptions;
  private readonly limits: TransportLimits;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly seed: number;
  private readonly faultRandom: SeededRandom;
  private readonly Socket: MeshSocketClass;
  private readonly links = new Map<string, Link>();
  private readonly peerDownHandlers: ((peerId: string) => void)[] = [];
  private readonly sessions = new Set<Session>();
  private readonly pending = new Set<Session>();
  private readonly handlers = new Set<EnvelopeHandler>();
  private readonly faultTimers = new Set<TimerId>();
  private readonly meshCounters: MeshCounters = {
    handshakesRejected: 0,
    upgradesRefused: 0,
    pendingHandshakes: 0,
    handlerErrors: 0,
    tlsRefused: 0,
  };
  private faultRules: FaultRule[] = [];
  private server: Server | undefined;
  private readonly meshTls: MeshTls | undefined;
  /** `localIdentity`'s parse of the certificate it was read from. */
  private ownIdentity: { pem: string; identity: PeerIdentity } | undefined;
  private tlsServer: TlsServer | undefined;
  /** The listening socket of a TLS mesh (it hands connections to `tlsServer` or `server`). */
  private listener: NetServer | undefined;
  private readonly rawSockets = new Set<Socket>();
  private wss: WebSocketServer | undefined;
  private pingTimer: TimerId | undefined;
  private started = false;
  private stopped = false;
  private stopping: Promise<void> | undefined;

  constructor(options: MeshOptions) {
    if (!NODE_ID.test(options.nodeId)) throw new Error(`invalid node id '${options.nodeId}'`);
    if (options.token.length === 0) throw new Error("the cluster join token must not be empty");
    this.options = options;
    this.nodeId = options.nodeId;
    this.limits = resolveLimits(options.limits);
    this.clock = options.clock;
    this.log = options.logger.child({ component: "transport", nodeId: options.nodeId });
    this.seed = options.seed ?? randomInt(2 ** 31);
    this.faultRandom = new SeededRandom(deriveSeed(this.seed, "faults"));
    this.Socket = meshSocketClass(this.limits.maxFrameBytes);
    this.meshTls = options.tls === undefined ? undefined : new MeshTls(options.tls);
    for (const [id, address] of Object.entries(options.peers)) this.addPeer(id, address);
  }

  async start(): Promise<{ port: number }> {
    if (this.started) throw new Error(`mesh ${this.nodeId} already started`);
    this.started = true;
    const server = createServer(httpServerOptions(this.limits), (req, res) =>
      this.serveHttp(req, res),
    );
    this.server = server;
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: this.limits.maxFrameBytes,
      perMessageDeflate: false,
      WebSocket: this.Socket,
    });
    server.on("upgrade", (req, socket, head) =>
      this.guard("upgrade", () => this.onUpgrade(req, socket, head)),
    );
    server.on("clientError", (_err, socket) => socket.destroy());
    const listening = this.meshTls === undefined ? server : this.tlsListener(this.meshTls, server);
    await new Promise<void>((resolve, reject) => {
      listening.once("error", reject);
      listening.listen(this.options.port, this.options.host, () => {
        listening.off("error", reject);
        resolve();
      });
    });
    listening.on("error", (err) => this.log.error({ err }, "http server error"));
    const address = listening.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    this.log.info({ port, tls: this.meshTls !== undefined }, "mesh listening");
    for (const link of this.links.values()) link.actor.send({ type: "START" });
    this.schedulePing();
    return { port };
  }

  /** Closes every socket and the server, clears every timer. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /** Sends to the node named by `nodeOf(envelope.to)`; never to this node. */
  send(envelope: Envelope): SendResult {
    if (this.stopped) return { ok: false, error: `mesh ${this.nodeId} is stopped` };
    const peer = nodeOf(envelope.to);
    if (peer === this.nodeId) {
      return { ok: false, error: `${envelope.to} is local: deliver it in the actor system` };
    }
    const link = this.links.get(peer);
    if (link === undefined) return { ok: false, error: `unknown peer ${peer}` };
    if (nodeOf(envelope.from) !== this.nodeId) {
      // The receiver would close the link as spoofing; refuse here instead.
      return { ok: false, error: `envelope from ${envelope.from} is not from ${this.nodeId}` };
    }
    const encoded = encodeEnvelope(envelope, this.limits.maxFrameBytes);
    if (!encoded.ok) return { ok: false, error: encoded.reason };
    const frame = encoded.bytes;
    const fate = this.decideFault(peer, "out");
    if (fate.deliver === 0) {
      link.counters.faultDropped++;
      return { ok: true }; // lost on the "network": the sender cannot tell, as with real loss
    }
    if (fate.deliver === 2) link.counters.faultDuplicated++;
    if (fate.delayMs > 0) return this.sendLater(link, frame, fate.deliver, fate.delayMs);
    const result = transmit(link, frame, this.limits);
    if (result.ok && fate.deliver === 2) transmit(link, frame, this.limits);
    return result;
  }

  /** Registers a handler for inbound envelopes; returns its unsubscribe. */
  onEnvelope(handler: EnvelopeHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  linkStates(): Record<string, LinkStatus> {
    const out: Record<string, LinkStatus> = {};
    for (const [id, link] of this.links) out[id] = linkStatus(link);
    return out;
  }

  /** Registers a handler told when a link stops being connected. */
  onPeerDown(handler: (peerId: string) => void): void {
    this.peerDownHandlers.push(handler);
  }

  /** Whether the link to `peerId` is connected now. */
  isConnected(peerId: string): boolean {
    return this.links.get(peerId)?.actor.getSnapshot().value === "connected";
  }

  /** The link statecharts, for the actor system to adopt and inspect. */
  linkActors(): Record<string, Actor<typeof peerLinkMachine>> {
    const out: Record<string, Actor<typeof peerLinkMachine>> = {};
    for (const [id, link] of this.links) out[id] = link.actor;
    return out;
  }

  /**
   * Certificate rotation without a restart: new links, dialed or accepted, present `material`;
   * links up now keep their TLS session until they reconnect. Throws (keeping the old
   * certificate) if the new one does not load.
   */
  reloadTls(material: MeshTlsMaterial): void {
    if (this.meshTls === undefined) throw new Error(`mesh ${this.nodeId} was started without TLS`);
    this.meshTls.reload(material);
    this.tlsServer?.setSecureContext(this.meshTls.serverOptions());
    this.log.info("mesh certificate reloaded");
  }

  /**
   * This node's identity as its peers see it: its certificate's on a TLS mesh (read anew, since
   * a rotation may change it), the token's on a plaintext one.
   */
  localIdentity(): PeerIdentity {
    if (this.meshTls === undefined) return tokenIdentity(this.nodeId);
    const pem = this.meshTls.certPem();
    if (this.ownIdentity?.pem !== pem) {
      this.ownIdentity = { pem, identity: ownIdentity(this.nodeId, pem) };
    }
    return this.ownIdentity.identity;
  }

  /** The authenticated identity of a connected peer (see peer-identity.ts). */
  peerIdentity(peerId: string): PeerIdentity | undefined {
    const link = this.links.get(peerId);
    return link?.session?.phase === "open" ? link.identity : undefined;
  }

  counters(): MeshCounters {
    return { ...this.meshCounters, pendingHandshakes: this.pending.size };
  }

  /** Adds a member, or moves it to a new address (used by its next dial). */
  addPeer(id: string, address: string): void {
    if (!NODE_ID.test(id)) throw new Error(`invalid peer id '${id}'`);
    if (id === this.nodeId) throw new Error(`peer ${id} is this node`);
    if (!/^\[?[A-Za-z0-9_.:-]+\]?:\d{1,5}$/.test(address)) {
      throw new Error(`peer ${id}: address must be host:port, got '${address}'`);
    }
    const existing = this.links.get(id);
    if (existing !== undefined) {
      existing.address = address;
      return;
    }
    const link = this.createLink(id, address);
    this.links.set(id, link);
    if (this.started && !this.stopped) link.actor.send({ type: "START" });
  }

  /** The role a not-yet-known peer gets: acceptor for a client we take in, else none. */
  private clientRole(peerId: string): "acceptor" | undefined {
    if (!this.options.acceptClients || !isClientId(peerId)) return undefined;
    const clients = [...this.links.keys()].filter(isClientId).length;
    return clients < MAX_CLIENT_LINKS ? "acceptor" : undefined;
  }

  /** A client passed the handshake: give it a link for as long as its socket lives. */
  private admitClient(peerId: string): Link {
    const link = this.createLink(peerId, "client:0");
    this.links.set(peerId, link);
    link.actor.subscribe((snapshot) => {
      if (snapshot.value === "disconnected" && snapshot.context.lastError !== undefined) {
        queueMicrotask(() => this.removePeer(peerId));
      }
    });
    return link;
  }

  /** Forgets a member: closes its socket, drops its queue, stops its statechart. */
  removePeer(id: string): void {
    const link = this.links.get(id);
    if (link === undefined) return;
    this.links.delete(id);
    link.actor.stop();
    const session = link.session;
    link.session = undefined;
    if (session !== undefined) this.close(session, CLOSE.normal, "peer removed");
  }

  /** Replaces the fault rules ([] heals everything). Throws unless faults are enabled. */
  setFaultRules(rules: unknown): void {
    if (!this.options.faultsEnabled) {
      throw new Error(
        `fault injection is disabled on ${this.nodeId}: start it with faults enabled`,
      );
    }
    this.faultRules = parseFaultRules(rules);
    this.log.warn({ rules: this.faultRules }, "fault rules set");
  }

  // ---- links ---------------------------------------------------------------------------------

  private createLink(peerId: string, address: string): Link {
    // One link per pair: the smaller id dials, so both ends agree without negotiating.
    const role = linkRole(this.nodeId, peerId);
    const machine = peerLinkMachine.provide({
      actions: {
        openSocket: () => this.dial(link),
        closeSocket: (_, params) => this.dropSession(link, params.reason),
        flushQueue: () => flush(link),
      },
    });
    const actor = createActor(machine, {
      clock: this.clock,
      id: `link:${peerId}`,
      input: {
        peerId,
        role,
        handshakeTimeoutMs: this.limits.handshakeTimeoutMs,
        backoff: {
          initialMs: this.limits.backoffInitialMs,
          maxMs: this.limits.backoffMaxMs,
          jitter: this.limits.backoffJitter,
        },
        seed: deriveSeed(this.seed, `${this.nodeId}->${peerId}`),
      },
      ...(this.options.inspect ? { inspect: this.options.inspect } : {}),
    });
    const link: Link = {
      peerId,
      address,
      role,
      actor,
      session: undefined,
      queue: [],
      queuedBytes: 0,
      batch: [],
      batchBytes: 0,
      batchScheduled: false,
      delayedOutBytes: 0,
      delayedInBytes: 0,
      counters: newCounters(),
      identity: undefined,
    };
    let previous = "disconnected";
    let wasConnected = false;
    actor.subscribe((snapshot) => {
      const state = String(snapshot.value);
      if (state === previous) return;
      previous = state;
      if (state === "connected") link.counters.connects++;
      if (wasConnected && state !== "connected") {
        for (const handler of this.peerDownHandlers) this.guard("peer down", () => handler(peerId));
      }
      wasConnected = state === "connected";
      const level = state === "connected" || state === "disconnected" ? "info" : "debug";
      this.log[level]({ peer: peerId, state, lastError: snapshot.context.lastError }, "link state");
    });
    actor.start();
    return link;
  }

  /** Sends a link event unless the mesh is shutting down (its actors are stopped then). */
  private notify(link: Link, event: Parameters<Link["actor"]["send"]>[0]): void {
    if (!this.stopped && this.links.get(link.peerId) === link) link.actor.send(event);
  }

  private detach(link: Link, session: Session): boolean {
    if (link.session !== session) return false;
    link.session = undefined;
    return true;
  }

  /** `closeSocket` action: the statechart gave up on the current socket (handshake timeout). */
  private dropSession(link: Link, reason: string): void {
    const session = link.session;
    link.session = undefined;
    if (session !== undefined) this.close(session, CLOSE.policyViolation, reason);
  }

  private close(session: Session, code: number, reason: string): void {
    if (session.closing) return;
    this.pending.delete(session);
    closeSocket(session, code, reason, this.clock, this.limits.closeGraceMs);
  }

  /**
   * Closes a socket that sent something it must not (RFC 6455 codes: 1002 protocol, 1008 policy,
   * 1009 too big), logs why, and tells its link. Every other socket carries on.
   */
  private rejectInput(session: Session, code: number, reason: string): void {
    if (session.closing) return;
    const peer = session.peerId ?? `unauthenticated ${session.remote}`;
    this.log.warn({ peer, remote: session.remote, code, reason }, "closing link: bad input");
    const link = session.peerId === undefined ? undefined : this.links.get(session.peerId);
    if (link !== undefined && session.phase === "open") link.counters.badInputCloses++;
    this.close(session, code, reason);
    if (link !== undefined && this.detach(link, session)) {
      const event = session.phase === "open" ? "SOCKET_CLOSED" : "HANDSHAKE_FAILED";
      this.notify(link, { type: event, reason: `closed ${code}: ${reason}` });
    }
  }

  // ---- dialing (the smaller node id) ---------------------------------------------------------

  private dial(link: Link): void {
    if (link.session !== undefined) this.dropSession(link, "redialing");
    let ws: WebSocket;
    const tls = this.meshTls;
    try {
      const scheme = tls === undefined ? "ws" : "wss";
      ws = new this.Socket(`${scheme}://${link.address}${MESH_PATH}`, {
        maxPayload: this.limits.maxFrameBytes,
        perMessageDeflate: false,
        // ws hands these on to tls.connect, whose checkServerIdentity returns an Error or
        // undefined; @types/ws declares it as returning boolean
        ...(tls === undefined
          ? {}
          : (tls.dialOptions(link.peerId) as unknown as WebSocket.ClientOptions)),
        // from our own address, not the kernel's pick (127.0.0.1 for every loopback peer): a
        // packet filter, the chaos suite's iptables partitions, can then tell members apart
        ...(dialsFromOwnAddress(this.options.host) ? { localAddress: this.options.host } : {}),
      });
    } catch (err) {
      // Deferred: the statechart is mid-transition into `connecting`.
      queueMicrotask(() => this.notify(link, { type: "SOCKET_CLOSED", reason: errorText(err) }));
      return;
    }
    const session = newSession(ws, link.address, "awaitChallenge", link.peerId);
    session.dialerNonce = newNonce();
    link.session = session;
    this.track(session);
    ws.on("open", () => {
      if (link.session === session) this.notify(link, { type: "SOCKET_OPEN" });
    });
    if (tls !== undefined) this.watchDialedTls(link, session);
    ws.on("message", (data, isBinary) =>
      this.guard("message", () => this.onDialerMessage(link, session, data, isBinary)),
    );
  }

  private onDialerMessage(
    link: Link,
    session: Session,
    data: WebSocket.RawData,
    isBinary: boolean,
  ): void {
    if (session.closing) return;
    session.awaitingPong = false;
    if (session.phase === "open") {
      this.onEnvelopeFrame(session, data, isBinary);
      return;
    }
    const frame = this.decodeHandshake(session, data, isBinary);
    if (frame === undefined) return;
    const step = dialerStep(
      {
        token: this.options.token,
        dialerId: this.nodeId,
        acceptorId: link.peerId,
        address: link.address,
        dialerNonce: session.dialerNonce!,
        acceptorNonce: session.acceptorNonce,
      },
      frame.value,
    );
    if (!step.ok) {
      if (step.authFailureOf !== undefined) link.counters.authFailures++;
      this.rejectInput(session, step.code, step.reason);
      return;
    }
    if (!step.authenticated) {
      session.acceptorNonce = step.acceptorNonce;
      session.phase = "awaitProof";
      this.sendHandshake(session, step.reply);
      return;
    }
    session.phase = "open";
    link.identity = this.identityOf(link.peerId, session);
    this.notify(link, { type: "HANDSHAKE_OK" });
  }

  /** The acceptor's certificate (checked by TLS and `dialOptions`), and TLS failures, logged. */
  private watchDialedTls(link: Link, session: Session): void {
    session.ws.on("upgrade", (response: IncomingMessage) => {
      if (response.socket instanceof TLSSocket)
        session.certificate = peerCertificateOf(response.socket);
    });
    session.ws.on("error", (err: Error & { code?: string; syscall?: string }) => {
      // socket errors (refused, reset) are the link's everyday backoff; TLS refusals are news
      if (err.syscall !== undefined || err.code?.startsWith("WS_ERR_")) return;
      this.meshCounters.tlsRefused++;
      this.log.warn(
        { peer: link.peerId, address: link.address, reason: err.message, code: err.code },
        "refusing mesh peer: TLS handshake failed",
      );
    });
  }

  // ---- accepting (the larger node id) --------------------------------------------------------

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? "").split("?")[0];
    const refuse = (status: string) => {
      this.meshCounters.upgradesRefused++;
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (path !== MESH_PATH || this.wss === undefined || this.stopped) {
      refuse("404 Not Found");
      return;
    }
    if (this.pending.size >= this.limits.maxPendingHandshakes) {
      this.log.warn({ remote: req.socket.remoteAddress }, "refusing upgrade: too many handshakes");
      refuse("503 Service Unavailable");
      return;
    }
    const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    let certificate: ReturnType<typeof peerCertificateOf>;
    if (this.meshTls !== undefined) {
      if (!(req.socket instanceof TLSSocket)) {
        this.meshCounters.tlsRefused++;
        this.log.warn(
          { remote, reason: "plaintext peer: this mesh requires mutual TLS" },
          "refusing mesh peer",
        );
        refuse("403 Forbidden");
        return;
      }
      // rejectUnauthorized already refused any peer without a CA-signed certificate
      certificate = peerCertificateOf(req.socket);
    }
    this.wss.handleUpgrade(req, socket, head, (ws) =>
      this.guard("accept", () => this.accept(ws, remote, certificate)),
    );
  }

  private accept(
    ws: WebSocket,
    remote: string,
    certificate: ReturnType<typeof peerCertificateOf>,
  ): void {
    if (this.stopped) {
      ws.terminate();
      return;
    }
    const session = newSession(ws, remote, "awaitAnswer");
    session.certificate = certificate;
    session.acceptorNonce = newNonce();
    this.track(session);
    this.pending.add(session);
    session.timer = this.clock.setTimeout(() => {
      this.meshCounters.handshakesRejected++;
      this.rejectInput(session, CLOSE.policyViolation, "handshake timeout");
    }, this.limits.handshakeTimeoutMs);
    ws.on("message", (data, isBinary) =>
      this.guard("message", () => this.onAcceptorMessage(session, data, isBinary)),
    );
    this.sendHandshake(session, makeChallenge(this.nodeId, session.acceptorNonce));
  }

  private onAcceptorMessage(session: Session, data: WebSocket.RawData, isBinary: boolean): void {
    if (session.closing) return;
    session.awaitingPong = false;
    if (session.phase === "open") {
      this.onEnvelopeFrame(session, data, isBinary);
      return;
    }
    const frame = this.decodeHandshake(session, data, isBinary);
    if (frame === undefined) return;
    const step = acceptorStep(
      {
        token: this.options.token,
        acceptorId: this.nodeId,
        acceptorNonce: session.acceptorNonce!,
        roleFor: (peerId) => this.links.get(peerId)?.role ?? this.clientRole(peerId),
      },
      frame.value,
    );
    if (!step.ok) {
      this.meshCounters.handshakesRejected++;
      // A failed proof leaves the named link alone: whoever failed may not be that peer.
      const claimed = step.authFailureOf && this.links.get(step.authFailureOf);
      if (claimed) claimed.counters.authFailures++;
      this.rejectInput(session, step.code, step.reason);
      return;
    }
    const mismatch = this.certificateMismatch(step.peerId, session);
    if (mismatch !== undefined) {
      this.meshCounters.handshakesRejected++;
      this.meshCounters.tlsRefused++;
      this.rejectInput(session, CLOSE.policyViolation, mismatch);
      return;
    }
    const link = this.links.get(step.peerId) ?? this.admitClient(step.peerId);
    link.identity = this.identityOf(step.peerId, session);
    cancelTimer(session, this.clock);
    this.pending.delete(session);
    session.peerId = step.peerId;
    session.phase = "open";
    const replaced = link.session;
    link.session = session;
    if (replaced !== undefined) this.close(replaced, CLOSE.normal, "replaced by a new connection");
    this.sendHandshake(session, step.reply);
    this.notify(link, { type: "INBOUND" });
    this.notify(link, { type: "HANDSHAKE_OK" });
  }

  // ---- both ends -----------------------------------------------------------------------------

  /** A TLS listener on the mesh port, passing plain HTTP (and plaintext peers) to `http`. */
  private tlsListener(meshTls: MeshTls, http: Server): NetServer {
    // a peer that starts a TLS handshake and stalls is dropped like one that stalls the token's
    const tlsServer = createTlsServer({
      ...meshTls.serverOptions(),
      handshakeTimeout: this.limits.handshakeTimeoutMs,
    });
    tlsServer.on("secureConnection", (socket) => http.emit("connection", socket));
    tlsServer.on("tlsClientError", (err: Error & { code?: string }, socket) => {
      this.meshCounters.tlsRefused++;
      this.log.warn(
        { remote: `${socket.remoteAddress}:${socket.remotePort}`, reason: err.message },
        "refusing mesh peer: TLS handshake failed",
      );
    });
    this.tlsServer = tlsServer;
    const listener = createMeshListener(http, tlsServer, this.limits.handshakeTimeoutMs);
    // sockets mid-TLS-handshake belong to neither server yet: `stop` must end them too
    listener.on("connection", (socket: Socket) => {
      this.rawSockets.add(socket);
      socket.once("close", () => this.rawSockets.delete(socket));
    });
    this.listener = listener;
    return listener;
  }

  /** On a TLS mesh, the certificate must name the node the token handshake named. */
  private certificateMismatch(peerId: string, session: Session): string | undefined {
    if (this.meshTls === undefined) return undefined;
    const expected = nodeCommonName(peerId);
    const cn = session.certificate?.subject?.CN;
    return cn === expected
      ? undefined
      : `certificate is for '${String(cn)}', but the peer claims to be '${expected}'`;
  }

  private identityOf(peerId: string, session: Session): PeerIdentity {
    return session.certificate === undefined
      ? tokenIdentity(peerId)
      : certificateIdentity(peerId, session.certificate);
  }

  /** Close/error/pong listeners common to dialed and accepted sockets. */
  private track(session: Session): void {
    this.sessions.add(session);
    const { ws } = session;
    ws.on("pong", () => {
      session.awaitingPong = false;
    });
    ws.on("error", (err: Error & { code?: string }) =>
      this.guard("socket error", () => {
        session.error ??= err.message;
        if (err.code?.startsWith("WS_ERR_")) {
          // ws already sent the close frame (MeshSocket gave it a reason); log, count, tell the link.
          const code =
            err.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH" ? CLOSE.tooBig : CLOSE.protocolError;
          this.rejectInput(session, code, err.message);
        } else {
          this.log.debug(
            { peer: session.peerId ?? session.remote, err: err.message },
            "socket error",
          );
        }
      }),
    );
    ws.on("close", (code, reasonBytes) =>
      this.guard("close", () => {
        this.sessions.delete(session);
        this.pending.delete(session);
        cancelTimer(session, this.clock);
        session.closing = true;
        const link = session.peerId === undefined ? undefined : this.links.get(session.peerId);
        if (link === undefined || !this.detach(link, session)) return;
        const text = reasonBytes.toString("utf8");
        const reason =
          session.error ?? (text.length > 0 ? `closed ${code}: ${text}` : `closed ${code}`);
        this.notify(link, { type: "SOCKET_CLOSED", reason });
      }),
    );
  }

  /** The msgpack value of a handshake frame, or undefined after closing the socket over it. */
  private decodeHandshake(
    session: Session,
    data: WebSocket.RawData,
    isBinary: boolean,
  ): { value: unknown } | undefined {
    if (!isBinary) {
      this.rejectInput(session, CLOSE.protocolError, "text frame");
      return undefined;
    }
    const decoded = decodeValue(frameBytes(data), this.limits.maxFrameBytes);
    if (!decoded.ok) {
      this.rejectInput(session, CLOSE.protocolError, decoded.reason);
      return undefined;
    }
    return { value: decoded.value };
  }

  private sendHandshake(session: Session, frame: object): void {
    const encoded = encodeValue(frame, this.limits.maxFrameBytes);
    // Our own handshake frames are tiny and well-formed: failing to encode one is a bug.
    if (!encoded.ok) throw new Error(`handshake frame did not encode: ${encoded.reason}`);
    session.ws.send(encoded.bytes);
  }

  private onEnvelopeFrame(session: Session, data: WebSocket.RawData, isBinary: boolean): void {
    const peer = session.peerId!;
    const link = this.links.get(peer);
    if (link === undefined || link.session !== session) return; // replaced or removed
    if (!isBinary) {
      this.rejectInput(session, CLOSE.protocolError, "text frame");
      return;
    }
    const bytes = frameBytes(data);
    link.counters.receivedFrames++;
    link.counters.receivedBytes += bytes.length;
    const admitted = admitFrame(bytes, {
      peerId: peer,
      nodeId: this.nodeId,
      maxFrameBytes: this.limits.maxFrameBytes,
    });
    if (!admitted.ok) {
      this.rejectInput(session, admitted.code, admitted.reason);
      return;
    }
    for (const item of admitted.items) {
      if (link.session !== session) return; // an earlier envelope's fault closed the socket
      this.receiveEnvelope(link, session, item.envelope, item.bytes);
    }
  }

  /** One admitted envelope, through the inbound fault rules, to the handlers. */
  private receiveEnvelope(
    link: Link,
    session: Session,
    envelope: Envelope,
    bytes: Uint8Array,
  ): void {
    const fate = this.decideFault(link.peerId, "in");
    if (fate.deliver === 0) {
      link.counters.faultDropped++;
      return;
    }
    if (fate.deliver === 2) link.counters.faultDuplicated++;
    if (fate.delayMs === 0) {
      this.deliver(link, envelope);
      if (fate.deliver === 2) this.deliverCopy(link, bytes);
      return;
    }
    link.counters.faultDelayed++;
    if (link.delayedInBytes + bytes.length * fate.deliver > this.limits.maxQueuedBytesPerPeer) {
      const reason = `inbound flood: over ${this.limits.maxQueuedBytesPerPeer} bytes held`;
      this.rejectInput(session, CLOSE.policyViolation, reason);
      return;
    }
    const held = bytes.length * fate.deliver;
    link.delayedInBytes += held;
    this.after(fate.delayMs, () => {
      link.delayedInBytes -= held;
      this.deliver(link, envelope);
      if (fate.deliver === 2) this.deliverCopy(link, bytes);
    });
  }

  private deliverCopy(link: Link, bytes: Uint8Array): void {
    const again = decodeFrame(bytes, this.limits.maxFrameBytes);
    if (again.ok) this.deliver(link, again.envelope);
  }

  private deliver(link: Link, envelope: Envelope): void {
    link.counters.deliveredEnvelopes++;
    const identity = link.identity ?? tokenIdentity(link.peerId);
    for (const handler of this.handlers) {
      const failed = (err: unknown) => {
        this.meshCounters.handlerErrors++;
        this.log.error({ err, peer: link.peerId, kind: envelope.kind }, "envelope handler threw");
      };
      try {
        catchRejection(handler(envelope, link.peerId, identity), failed);
      } catch (err) {
        failed(err);
      }
    }
  }

  // ---- outbound ------------------------------------------------------------------------------

  private sendLater(link: Link, frame: Uint8Array, copies: 1 | 2, delayMs: number): SendResult {
    const max = this.limits.maxQueuedBytesPerPeer;
    if (heldBytes(link) + frame.length > max) return queueFull(link, max);
    link.counters.faultDelayed++;
    link.delayedOutBytes += frame.length;
    this.after(delayMs, () => {
      link.delayedOutBytes -= frame.length;
      if (this.links.get(link.peerId) !== link) return;
      for (let i = 0; i < copies; i++) transmit(link, frame, this.limits);
    });
    return { ok: true };
  }

  private decideFault(peer: string, direction: Direction) {
    if (this.faultRules.length === 0) return { deliver: 1, delayMs: 0 } as const;
    return decide(this.faultRules, peer, direction, () => this.faultRandom.next());
  }

  private after(delayMs: number, fn: () => void): void {
    const id = this.clock.setTimeout(() => {
      this.faultTimers.delete(id);
      this.guard("delayed frame", fn);
    }, delayMs);
    this.faultTimers.add(id);
  }

  // ---- liveness ------------------------------------------------------------------------------

  /** A connected socket that missed a whole ping interval's pong is dead (half-open TCP). */
  private schedulePing(): void {
    if (this.limits.pingIntervalMs === 0 || this.stopped) return;
    this.pingTimer = this.clock.setTimeout(() => {
      this.guard("ping", () => {
        for (const link of this.links.values()) {
          const session = link.session;
          if (session === undefined || session.phase !== "open" || session.closing) continue;
          if (session.awaitingPong) {
            const reason = `dead peer: no pong within ${this.limits.pingIntervalMs} ms`;
            this.log.warn({ peer: link.peerId, reason }, "closing link");
            session.error = reason;
            session.ws.terminate();
            continue;
          }
          session.awaitingPong = true;
          session.ws.ping();
        }
      });
      this.schedulePing();
    }, this.limits.pingIntervalMs);
  }

  // ---- edges ---------------------------------------------------------------------------------

  private serveHttp(req: IncomingMessage, res: ServerResponse): void {
    const signer = this.options.joinSigner;
    if (signer !== undefined && (req.url ?? "").split("?")[0] === JOIN_CERTIFICATE_PATH) {
      this.guard("join certificate", () => serveJoinCertificate(req, res, signer, this.log));
      return;
    }
    const handler = this.options.httpHandler;
    if (handler === undefined) {
      res.writeHead(404).end();
      return;
    }
    const failed = (err: unknown) => {
      this.log.error({ err, url: req.url }, "http handler threw");
      if (!res.headersSent) res.writeHead(500);
      res.end();
    };
    try {
      catchRejection(handler(req, res), failed);
    } catch (err) {
      failed(err);
    }
  }

  /** Nothing a peer does may crash the process: every socket callback runs through here. */
  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.meshCounters.handlerErrors++;
      this.log.error({ err, what }, "transport handler threw");
    }
  }

  private async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.pingTimer !== undefined) this.clock.clearTimeout(this.pingTimer);
    for (const id of this.faultTimers) this.clock.clearTimeout(id);
    this.faultTimers.clear();
    for (const link of this.links.values()) link.actor.stop();
    const sessions = [...this.sessions];
    for (const session of sessions) this.close(session, CLOSE.goingAway, "node stopping");
    await Promise.all(sessions.map((s) => s.closed));
    const server = this.server;
    if (server === undefined) return;
    this.wss?.close();
    server.closeAllConnections();
    const listener = this.listener;
    if (listener !== undefined) {
      for (const socket of this.rawSockets) socket.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.log.info("mesh stopped");
  }
}

/**
 * Handlers are typed to return void, but an async one returns a promise whose rejection would
 * otherwise be unhandled, and an unhandled rejection ends a Node process.
 */
function catchRejection(result: unknown, onError: (err: unknown) => void): void {
  if (result instanceof Promise) result.catch(onError);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A concrete IP to dial from; not a wildcard (0.0.0.0, ::) nor a name. */
function dialsFromOwnAddress(host: string): boolean {
  return isIP(host) !== 0 && host !== "0.0.0.0" && host !== "::";
}
