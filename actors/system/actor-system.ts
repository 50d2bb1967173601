import { pack, unpack } from "msgpackr";
import type { Logger } from "pino";
import {
  type Actor,
  type AnyActorRef,
  type AnyStateMachine,
  createActor,
  type InspectionEvent,
} from "xstate";
import { actorOf, type Envelope, nodeOf } from "../../transport/envelope.ts";
import { type PeerIdentity, tokenIdentity } from "../../transport/peer-identity.ts";
import type { Clock, TimerId } from "./clock.ts";
import { type InspectionPage, type InspectionRecord, InspectionRing } from "./inspection-ring.ts";
import { type ActorSystemLimits, DEFAULT_ACTOR_SYSTEM_LIMITS } from "./limits.ts";
import {
  type ActorMessage,
  ASK_ERROR_KIND,
  ASK_REPLY_KIND,
  ASK_UNDELIVERED_KIND,
  AskNotDeliveredError,
} from "./message.ts";
import { eventPayloadPreview, redactText } from "./redaction.ts";
import {
  DEFAULT_SUPERVISOR_POLICY,
  type SupervisorPolicy,
  supervisorMachine,
} from "./supervisor.ts";
import type { SendResult, Wire } from "./wire.ts";

export interface ActorSystemOptions {
  nodeId: string;
  clock: Clock;
  logger: Logger;
  wire?: Wire;
  limits?: Partial<ActorSystemLimits>;
  /** The Raft term to tag inspection records with, once the node has one. */
  termOf?: () => number | null;
}

export interface SpawnOptions {
  input?: unknown;
  /** Restart the actor with backoff when it throws (default true). */
  supervise?: boolean;
  policy?: SupervisorPolicy;
}

export interface ActorStatus {
  address: string;
  machine: string;
  state: unknown;
  status: string;
  restarts: number;
  supervisor: string | null;
  lastError: string | null;
  /** The newest event it handled that is still in the inspection ring. */
  lastEvent: { type: string; atMs: number; from: string | null } | null;
}

interface Entry {
  name: string;
  machine: AnyStateMachine;
  input: unknown;
  actor: AnyActorRef;
  supervisor: Actor<typeof supervisorMachine> | null;
}

/** A statechart started on behalf of a registered actor (see `spawnChild`). */
interface ChildEntry {
  machine: AnyStateMachine;
  actor: AnyActorRef;
}

interface PendingAsk {
  resolve: (body: unknown) => void;
  reject: (error: Error) => void;
  timer: TimerId;
  to: string;
  kind: string;
}

/** Copy semantics for local sends: the receiver gets what a remote receiver would. */
function copyThroughMsgpack<T>(value: T): T {
  return unpack(pack(value)) as T;
}

/**
 * One node's actor system (DESIGN §3): a registry of named xstate actors, location-transparent
 * `tell`/`ask` over the wire, supervision, and inspection into a bounded ring.
 */
export class ActorSystem {
  readonly nodeId: string;
  readonly clock: Clock;
  readonly ring: InspectionRing;
  readonly limits: ActorSystemLimits;
  private readonly logger: Logger;
  private readonly wire: Wire | undefined;
  private readonly termOf: () => number | null;
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, PendingAsk>();
  private readonly adopted = new Map<string, AnyActorRef>();
  private readonly children = new Map<string, ChildEntry>();
  private nextAskId = 1;
  private stopped = false;
  /** Until when (monotonic ms) events keep their payload previews for a reader of the ring. */
  private readerGraceUntilMs = Number.NEGATIVE_INFINITY;
  deadLetters = 0;

  constructor(options: ActorSystemOptions) {
    this.nodeId = options.nodeId;
    this.clock = options.clock;
    this.logger = options.logger;
    this.wire = options.wire;
    this.termOf = options.termOf ?? (() => null);
    this.limits = { ...DEFAULT_ACTOR_SYSTEM_LIMITS, ...options.limits };
    this.ring = new InspectionRing(this.limits.inspectionRingRecords);
    this.wire?.onEnvelope((envelope, fromNodeId, identity) =>
      this.receive(envelope, identity ?? tokenIdentity(fromNodeId)),
    );
    this.wire?.onPeerDown?.((nodeId) => {
      this.failAsksTo(nodeId);
      for (const handler of [...this.peerDownHandlers]) handler(nodeId);
    });
  }

  private readonly peerDownHandlers: ((nodeId: string) => void)[] = [];

  /**
   * Runs `handler` each time the link to a peer node goes down (after the asks pending there
   * have failed): a client whose watch that node serves moves it at once, instead of noticing
   * at its next liveness check. Returns the unsubscribe.
   */
  onPeerDown(handler: (nodeId: string) => void): () => void {
    this.peerDownHandlers.push(handler);
    return () => {
      const i = this.peerDownHandlers.indexOf(handler);
      if (i >= 0) this.peerDownHandlers.splice(i, 1);
    };
  }

  address(name: string): string {
    return `${this.nodeId}/${name}`;
  }

  /** Starts `machine` as actor `name` on this node; it is reachable at `nodeId/name`. */
  spawn(name: string, machine: AnyStateMachine, options: SpawnOptions = {}): AnyActorRef {
    if (this.stopped) throw new Error(`actor system ${this.nodeId} is stopped`);
    if (this.has(name)) throw new Error(`actor ${this.address(name)} already exists`);
    if (this.entries.size + this.adopted.size >= this.limits.maxActors) {
      throw new Error(`actor limit reached on ${this.nodeId} (${this.limits.maxActors})`);
    }
    const entry: Entry = {
      name,
      machine,
      input: options.input,
      actor: this.startActor(name, machine, options.input),
      supervisor: null,
    };
    this.entries.set(name, entry);
    if (options.supervise !== false) {
      entry.supervisor = this.startSupervisor(entry, options.policy ?? DEFAULT_SUPERVISOR_POLICY);
    }
    return entry.actor;
  }

  /**
   * Starts `machine` on behalf of actor `parent` as `parent/child` — a pod's lifecycle under its
   * kubelet is `n1/kubelet/pod:default/web-0`, a controller's reconcile loop
   * `n1/controller-manager/replicaset` — so that it is reachable, listed in status and inspected
   * like any actor. It is not supervised (its parent decides what a failure means) and leaves
   * the registry by itself once it finishes, fails or is stopped. Children are counted apart
   * from `maxActors`: a kubelet runs up to 110 of them, and a hollow-nodes process has a
   * thousand kubelets.
   */
  spawnChild(
    parent: string,
    child: string,
    machine: AnyStateMachine,
    options: { input?: unknown } = {},
  ): AnyActorRef {
    if (this.stopped) throw new Error(`actor system ${this.nodeId} is stopped`);
    const name = `${parent}/${child}`;
    if (!this.has(parent)) throw new Error(`no parent actor ${this.address(parent)} for ${child}`);
    if (this.has(name)) throw new Error(`actor ${this.address(name)} already exists`);
    if (this.children.size >= this.limits.maxChildActors) {
      throw new Error(
        `child actor limit reached on ${this.nodeId} (${this.limits.maxChildActors})`,
      );
    }
    const address = this.address(name);
    const actor = createActor(machine, {
      input: options.input,
      clock: this.clock,
      inspect: (event) => this.inspect(address, event),
    });
    const entry: ChildEntry = { machine, actor };
    this.children.set(name, entry);
    const leave = () => {
      if (this.children.get(name) === entry) this.children.delete(name);
    };
    // an error observer also keeps xstate from rethrowing the failure as unhandled: the parent
    // hears of it through its own subscription
    actor.subscribe({ complete: leave, error: leave });
    actor.start();
    return actor;
  }

  /** Whether `name` is taken by an actor, an adopted actor or a child. */
  has(name: string): boolean {
    return this.entries.has(name) || this.adopted.has(name) || this.children.has(name);
  }

  /**
   * Stops actor `name` and its supervisor and frees the name (a pod's statechart when the pod is
   * gone). Asks it had not answered time out as usual. Returns false if there was no such actor.
   */
  despawn(name: string): boolean {
    const entry = this.entries.get(name);
    if (entry !== undefined) {
      this.entries.delete(name);
      entry.supervisor?.send({ type: "child.stop" });
      entry.supervisor?.stop();
      entry.actor.stop();
      return true;
    }
    const child = this.children.get(name);
    if (child !== undefined) {
      child.actor.stop(); // its completion takes it out of the registry
      this.children.delete(name);
      return true;
    }
    return this.adopted.delete(name);
  }

  /**
   * Registers an actor created elsewhere (e.g. the transport's peer links) so it shows in status
   * and inspection. Its creator should pass `inspectExternal` as the actor's `inspect` option;
   * without it, only its snapshots are recorded, as they change.
   */
  adopt(name: string, actor: AnyActorRef, options: { inspected?: boolean } = {}): void {
    if (this.has(name)) return;
    this.adopted.set(name, actor);
    if (options.inspected) return;
    const address = this.address(name);
    actor.subscribe((snapshot: { value?: unknown; status?: string }) => {
      this.record(
        address,
        "@xstate.snapshot",
        undefined,
        undefined,
        snapshot.value,
        snapshot.status,
      );
    });
  }

  /**
   * The `inspect` hook for actors created outside the system (childless, like the peer links):
   * the actor's `id` is the name it is, or will be, adopted under.
   */
  inspectExternal(event: InspectionEvent): void {
    this.inspect(this.address((event.actorRef as AnyActorRef).id), event);
  }

  /** The actor registered as `name`, if any. */
  actorRef(name: string): AnyActorRef | undefined {
    return (
      this.entries.get(name)?.actor ?? this.children.get(name)?.actor ?? this.adopted.get(name)
    );
  }

  /** The machine behind `name`, for drawing its statechart. */
  machineOf(name: string): AnyStateMachine | undefined {
    const entry = this.entries.get(name) ?? this.children.get(name);
    if (entry) return entry.machine;
    const adopted = this.adopted.get(name) as { logic?: AnyStateMachine } | undefined;
    return adopted?.logic;
  }

  /** Fire and forget. The result says whether the message left (not that it arrived). */
  tell(from: string, to: string, kind: string, body: unknown): SendResult {
    return this.dispatch({ to, from, kind, body });
  }

  /** Request/response with a correlation id and a timeout. */
  ask<T = unknown>(
    from: string,
    to: string,
    kind: string,
    body: unknown,
    timeoutMs = this.limits.defaultAskTimeoutMs,
  ): Promise<T> {
    if (this.pending.size >= this.limits.maxInflightAsks) {
      return Promise.reject(
        new AskNotDeliveredError(
          `too many asks in flight on ${this.nodeId} (${this.limits.maxInflightAsks})`,
        ),
      );
    }
    const id = `${this.nodeId}:${this.nextAskId++}`;
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`ask ${kind} to ${to} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (b: unknown) => void, reject, timer, to, kind });
      const sent = this.dispatch({ to, from, kind, id, body });
      if (!sent.ok) this.settle(id, { error: sent.error, undelivered: true });
    });
  }

  /** Whether a message to `nodeId` would go out now (this node, or a connected peer). */
  isReachable(nodeId: string): boolean {
    if (nodeId === this.nodeId) return true;
    return this.wire?.isConnected?.(nodeId) ?? this.wire !== undefined;
  }

  /**
   * Inspection records with seq ≥ sinceSeq (InspectionRing.read), for a reader: from now until
   * `inspectionReaderGraceMs` after the last read, events enter the ring with their payloads.
   */
  readInspection(
    sinceSeq: number,
    options: { address?: string; limit?: number } = {},
  ): InspectionPage {
    this.readerGraceUntilMs = this.clock.nowMs() + this.limits.inspectionReaderGraceMs;
    return this.ring.read(sinceSeq, options);
  }

  /**
   * Whether an event's payload preview is worth its walk: only while someone follows the ring
   * or has read it lately. The records nobody reads keep the fields that cost nothing to take
   * (address, kind, event type, sender, state), which is all `status` and the CLI show.
   */
  private payloadsWanted(): boolean {
    return this.ring.followed || this.clock.nowMs() < this.readerGraceUntilMs;
  }

  /** Every actor on this node with its current state. */
  status(): ActorStatus[] {
    const out: ActorStatus[] = [];
    const latest = this.ring.latestEvents();
    const lastEvent = (address: string): ActorStatus["lastEvent"] => {
      const r = latest.get(address);
      return r ? { type: r.eventType ?? "", atMs: r.atMs, from: r.from ?? null } : null;
    };
    for (const entry of this.entries.values()) {
      const snapshot = entry.actor.getSnapshot() as { value?: unknown; status: string };
      const sup = entry.supervisor?.getSnapshot();
      out.push({
        address: this.address(entry.name),
        lastEvent: lastEvent(this.address(entry.name)),
        machine: entry.machine.id,
        state: snapshot.value ?? null,
        status: snapshot.status,
        restarts: sup?.context.restarts ?? 0,
        supervisor: sup ? String(sup.value) : null,
        lastError: sup?.context.lastError ? redactText(sup.context.lastError) : null,
      });
    }
    for (const [name, child] of this.children) {
      const snapshot = child.actor.getSnapshot() as { value?: unknown; status: string };
      out.push({
        address: this.address(name),
        lastEvent: lastEvent(this.address(name)),
        machine: child.machine.id,
        state: snapshot.value ?? null,
        status: snapshot.status,
        restarts: 0,
        supervisor: null,
        lastError: null,
      });
    }
    for (const [name, actor] of this.adopted) {
      const snapshot = actor.getSnapshot() as { value?: unknown; status: string };
      const logic = (actor as { logic?: { id?: string } }).logic;
      out.push({
        address: this.address(name),
        lastEvent: lastEvent(this.address(name)),
        machine: logic?.id ?? "actor",
        state: snapshot.value ?? null,
        status: snapshot.status,
        restarts: 0,
        supervisor: null,
        lastError: null,
      });
    }
    return out;
  }

  /**
   * The link to `nodeId` went down: its pending asks fail now rather than at their timeout, so
   * callers retry elsewhere at once. (The request may still have been processed: an ask's
   * outcome is unknown on failure, as on timeout.)
   */
  private failAsksTo(nodeId: string): void {
    for (const [id, ask] of this.pending) {
      if (nodeOf(ask.to) === nodeId) this.settle(id, { error: `connection to ${nodeId} lost` });
    }
  }

  /** Stops every actor and fails every pending ask. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const [id] of this.pending) this.settle(id, { error: `node ${this.nodeId} stopped` });
    for (const entry of this.entries.values()) {
      entry.supervisor?.send({ type: "child.stop" });
      entry.supervisor?.stop();
      entry.actor.stop();
    }
    for (const child of [...this.children.values()]) child.actor.stop();
  }

  /** An envelope from the wire (or a local send, after its copy), from `peer`. */
  private receive(envelope: Envelope, peer: PeerIdentity): void {
    if (nodeOf(envelope.to) !== this.nodeId) {
      this.logger.warn({ to: envelope.to }, "envelope for another node dropped");
      return;
    }
    if (
      envelope.kind === ASK_REPLY_KIND ||
      envelope.kind === ASK_ERROR_KIND ||
      envelope.kind === ASK_UNDELIVERED_KIND
    ) {
      if (envelope.replyTo === undefined) return;
      const body =
        envelope.kind === ASK_REPLY_KIND
          ? envelope
          : { error: String(envelope.body), undelivered: envelope.kind === ASK_UNDELIVERED_KIND };
      this.settle(envelope.replyTo, body);
      return;
    }
    const target = this.actorRef(actorOf(envelope.to));
    if (target === undefined) {
      this.deadLetters++;
      if (envelope.id !== undefined) {
        this.answer(envelope, ASK_UNDELIVERED_KIND, `no actor ${envelope.to}`);
      }
      return;
    }
    target.send(this.toMessage(envelope, peer));
  }

  private toMessage(envelope: Envelope, peer: PeerIdentity): ActorMessage {
    const message: ActorMessage = {
      type: envelope.kind,
      body: envelope.body,
      from: envelope.from,
      peer,
    };
    if (envelope.id !== undefined) {
      let answered = false;
      message.reply = (body) => {
        if (answered) return;
        answered = true;
        this.answer(envelope, ASK_REPLY_KIND, body);
      };
      message.fail = (error) => {
        if (answered) return;
        answered = true;
        this.answer(envelope, ASK_ERROR_KIND, error);
      };
    }
    return message;
  }

  private answer(ask: Envelope, kind: string, body: unknown): void {
    const sent = this.dispatch({ to: ask.from, from: ask.to, kind, replyTo: ask.id, body });
    if (!sent.ok) this.logger.warn({ to: ask.from, error: sent.error }, "reply not sent");
  }

  private settle(id: string, outcome: Envelope | { error: string; undelivered?: boolean }): void {
    const ask = this.pending.get(id);
    if (ask === undefined) return; // late reply after a timeout: dropped
    this.pending.delete(id);
    this.clock.clearTimeout(ask.timer);
    if ("error" in outcome) {
      const message = `ask ${ask.kind} to ${ask.to}: ${outcome.error}`;
      ask.reject(outcome.undelivered ? new AskNotDeliveredError(message) : new Error(message));
    } else ask.resolve(outcome.body);
  }

  private dispatch(envelope: Envelope): SendResult {
    if (this.stopped) return { ok: false, error: `node ${this.nodeId} stopped` };
    if (nodeOf(envelope.to) === this.nodeId) {
      let copy: Envelope;
      try {
        copy = copyThroughMsgpack(envelope);
      } catch (error) {
        return { ok: false, error: `body cannot be encoded: ${(error as Error).message}` };
      }
      const self = this.wire?.localIdentity?.() ?? tokenIdentity(this.nodeId);
      queueMicrotask(() => this.receive(copy, self));
      return { ok: true };
    }
    if (this.wire === undefined) return { ok: false, error: `no transport to ${envelope.to}` };
    return this.wire.send(envelope);
  }

  private startActor(name: string, machine: AnyStateMachine, input: unknown): AnyActorRef {
    const address = this.address(name);
    const actor = createActor(machine, {
      input,
      clock: this.clock,
      inspect: (event) => this.inspect(address, event),
    });
    actor.subscribe({ error: (error) => this.onCrash(name, error) });
    actor.start();
    return actor;
  }

  private startSupervisor(entry: Entry, policy: SupervisorPolicy): Actor<typeof supervisorMachine> {
    const name = `supervisor:${entry.name}`;
    const machine = supervisorMachine.provide({
      actions: { startChild: () => this.restart(entry) },
    });
    const address = this.address(name);
    const supervisor = createActor(machine, {
      input: { child: this.address(entry.name), policy },
      clock: this.clock,
      inspect: (event) => this.inspect(address, event),
    });
    supervisor.start();
    return supervisor;
  }

  private onCrash(name: string, error: unknown): void {
    const entry = this.entries.get(name);
    const message = error instanceof Error ? error.message : String(error);
    this.logger.error({ actor: this.address(name), error: message }, "actor crashed");
    entry?.supervisor?.send({ type: "child.crashed", error: message });
  }

  private restart(entry: Entry): void {
    if (this.stopped) return;
    this.logger.info({ actor: this.address(entry.name) }, "restarting actor");
    entry.actor = this.startActor(entry.name, entry.machine, entry.input);
  }

  private inspect(rootAddress: string, event: InspectionEvent): void {
    const ref = event.actorRef as AnyActorRef;
    const address =
      ref.sessionId === event.rootId ? rootAddress : `${rootAddress}.${ref.id || ref.sessionId}`;
    switch (event.type) {
      case "@xstate.actor":
        this.record(address, event.type, undefined, undefined, undefined, undefined);
        return;
      case "@xstate.event": {
        const from = event.event.from;
        const sender = typeof from === "string" ? from : undefined;
        // the one place payloads enter inspection: redacted and bounded here (redaction.ts)
        const payload = this.payloadsWanted() ? eventPayloadPreview(event.event) : undefined;
        this.record(address, event.type, event.event.type, sender, undefined, undefined, payload);
        return;
      }
      case "@xstate.snapshot":
      case "@xstate.microstep": {
        const snapshot = event.snapshot as { value?: unknown; status?: string };
        this.record(
          address,
          event.type,
          event.event.type,
          undefined,
          snapshot.value,
          snapshot.status,
        );
        return;
      }
      default:
        return; // transitions and actions are implied by microsteps; keep the ring for those
    }
  }

  /** One record, built with a fixed shape: this runs for every event of every actor. */
  private record(
    address: string,
    kind: InspectionRecord["kind"],
    eventType: string | undefined,
    from: string | undefined,
    state: unknown,
    status: string | undefined,
    payload?: unknown,
  ): void {
    this.ring.push({
      seq: 0,
      nodeId: this.nodeId,
      address,
      term: this.termOf(),
      atMs: this.clock.wallMs(),
      kind,
      eventType,
      from,
      state,
      status,
      payload,
    });
  }
}
