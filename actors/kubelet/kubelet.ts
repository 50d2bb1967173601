/**
 * The kubelet (DESIGN §7): registers its Node and renews its Lease (node-lease.ts), watches the
 * pods bound to it (an informer with `spec.nodeName=<node>`), and runs each through a pod
 * statechart (pod-lifecycle.ts) on a container runtime (process-runtime.ts by default).
 *
 * - A pod with a deletionTimestamp is terminated (SIGTERM, SIGKILL after its grace period),
 *   then its object is deleted (grace period 0, uid precondition). A pod object deleted outright
 *   is terminated the same way.
 * - Finished pods (Succeeded/Failed) found at start are not run again.
 * - A restarted kubelet re-adopts the containers its predecessor left running (Kubernetes'
 *   kubelet re-attaches to running containers): the runtime recovers them from its pid files,
 *   their pod IPs are claimed at once, and each pod statechart adopts its containers instead of
 *   starting them (restartCount, container ID and pod IP unchanged). Once the first list of the
 *   pods bound here is in, what belongs to pods no longer bound here (or finished, or being
 *   deleted) is killed and its files removed.
 * - `logs()` reads a container's log; the `kubelet` actor answers the API server's pods/log:
 *
 *   kubelet.logs KubeletLogsRequest          → KubeletLogsReply (text, or why not)
 *   kubelet.logs.unfollow {follower}         (tell: a followed log's stream ended)
 *   kubelet.followers {}                     → {count, limit}
 *   kubelet.pods {}                          → [{namespace, name, uid, state}]
 *
 * - It records Events about its pods (pod-events.ts) and its Node (Starting, NodeReady) through
 *   one event broadcaster, as `kubelet` on its node; hollow kubelets record none
 *   (`recordEvents: false`), so that scale tests measure scheduling, not event writes.
 * - Each container's environment is resolved from the ConfigMaps and Secrets it names, read
 *   before each start (container-env.ts).
 *
 *   kubelet.exec.*                           `kubectl exec` sessions (exec-protocol.ts,
 *                                            exec-sessions.ts)
 *
 *   `kubectl logs -f` is a series of asks from the API server, each from where the last
 *   stopped (`attempt`, `sinceByte`), naming the stream (`follower`): at most maxLogFollowers
 *   streams per kubelet (log-followers.ts).
 */

import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { type AnyActorRef, assign, setup } from "xstate";
import type { ExecRefusal, ExecStartRequest } from "../api/exec-protocol.ts";
import { asObject, asString, type JsonObject } from "../api/json.ts";
import {
  KUBELET_ACTOR,
  type KubeletLogsReply,
  type KubeletLogsRequest,
} from "../api/kubelet-protocol.ts";
import {
  EMPTY_RESOLV_CONF,
  parseResolvConf,
  podResolvConf,
  type ResolvConf,
  renderResolvConf,
} from "../api/resolv-conf.ts";
import { serviceEnvForPod } from "../api/service-env.ts";
import type { KubeletSummary } from "../api/stats-protocol.ts";
import { DEFAULT_CLUSTER_DOMAIN, KUBE_DNS_SERVICE_IP } from "../api/well-known.ts";
import type { ApiClient } from "../client/api-client.ts";
import { isConflict, isNotFound } from "../client/errors.ts";
import { EventBroadcaster, type EventRecorder } from "../client/event-recorder.ts";
import { Informer } from "../client/informer.ts";
import type { ActorSystem } from "../system/actor-system.ts";
import type { Clock } from "../system/clock.ts";
import { type ActorMessage, answerAsk } from "../system/message.ts";
import { type ContainerConfig, envReferences, resolveContainerConfig } from "./container-env.ts";
import { limitBytes, logSource, runningAttempt, tailLines } from "./container-logs.ts";
import { ExecSessions } from "./exec-sessions.ts";
import { DEFAULT_KUBELET_LIMITS, type KubeletLimits } from "./limits.ts";
import { LogFollowers } from "./log-followers.ts";
import { nodeLeaseMachine } from "./node-lease.ts";
import { machineCapacity, type NodeFacts, nodeLabels } from "./node-object.ts";
import { podEventsFor } from "./pod-events.ts";
import { PodIpAllocator } from "./pod-ip-allocator.ts";
import { type PreparedPod, podLifecycleMachine } from "./pod-lifecycle.ts";
import type { ContainerRecord } from "./pod-status.ts";
import { PodStatusManager } from "./pod-status-manager.ts";
import { NetworkProbeRunner, type ProbeRunner } from "./probe-runner.ts";
import { ProcessRuntime } from "./process-runtime.ts";
import type { ContainerHandle, ContainerRuntime, RecoveredPods } from "./runtime.ts";
import { StatsSampler } from "./stats-sampler.ts";
import { claimedVolumeDirectory, prepareVolumes, type VolumeSources } from "./volumes.ts";

export interface KubeletOptions {
  system: ActorSystem;
  api: ApiClient;
  clock: Clock;
  logger: Logger;
  nodeName: string;
  rootDir: string;
  /** Defaults to this machine's cpus, memory and maxPods. */
  capacity?: Record<string, string>;
  labels?: Record<string, string>;
  taints?: JsonObject[];
  podIpAllocator?: PodIpAllocator;
  /** The node's InternalIP (default 127.0.0.1). */
  hostIP?: string;
  /** The node's pod range, published as `spec.podCIDR`. */
  podCIDR?: string;
  runtime?: ContainerRuntime;
  /** Runs probes (default: exec through the runtime, httpGet and tcpSocket over the network). */
  probes?: ProbeRunner;
  limits?: Partial<KubeletLimits>;
  /** The kubelet actor's name in `system` (default `kubelet`). */
  actorName?: string;
  /**
   * Give containers the Service environment variables (default true): the kubelet watches
   * Services and starts no container before its first list is in.
   */
  serviceEnvironment?: boolean;
  /**
   * Cluster DNS for ClusterFirst pods (the kubelet's --cluster-dns and --cluster-domain): each
   * container gets a resolv.conf per its pod's dnsPolicy (default: kube-dns's address and
   * `cluster.local`; null: no resolv.conf is written). `hostResolvConf` is the host's file, what
   * `dnsPolicy: Default` pods get (default /etc/resolv.conf).
   */
  dns?: { nameserver: string; domain: string; hostResolvConf?: string } | null;
  /** Record Events (default true; hollow nodes turn them off). */
  recordEvents?: boolean;
}

export interface LogOptions {
  previous?: boolean;
  tailLines?: number;
  limitBytes?: number;
}

export interface PodSummary {
  namespace: string;
  name: string;
  uid: string;
  state: unknown;
}

export interface KubeletHandle {
  readonly nodeName: string;
  readonly runtime: ContainerRuntime;
  /** A container's log (the current attempt's, or `previous`); rejects with why not. */
  logs(namespace: string, pod: string, container?: string, options?: LogOptions): Promise<string>;
  pods(): PodSummary[];
  /** The heartbeat statechart's state and renewal count (for tests and inspection). */
  heartbeat(): { state: unknown; renewals: number; lastError: string | null };
  /** Stops watching and heartbeating; kills every container unless `leaveContainers`. */
  stop(options?: { leaveContainers?: boolean }): Promise<void>;
}

interface PodWorker {
  uid: string;
  namespace: string;
  name: string;
  actor: AnyActorRef;
  podIP: string | null;
  /** The pod object had a deletionTimestamp: delete it once terminated. */
  deleteObject: boolean;
  objectGone: boolean;
}

type KubeletActorEvent =
  | ActorMessage<"kubelet.logs", KubeletLogsRequest>
  | ActorMessage<"kubelet.logs.unfollow", { follower: string }>
  | ActorMessage<"kubelet.followers", null>
  | ActorMessage<"kubelet.pods", null>
  | ActorMessage<"kubelet.stats", null>
  | ActorMessage<"kubelet.exec.start", ExecStartRequest>
  | ActorMessage<"kubelet.exec.stdin", { session: string; data: Uint8Array }>
  | ActorMessage<"kubelet.exec.stdin.close", { session: string }>
  | ActorMessage<"kubelet.exec.resize", { session: string; width: number; height: number }>
  | ActorMessage<"kubelet.exec.credit", { session: string; bytes: number }>
  | ActorMessage<"kubelet.exec.cancel", { session: string }>
  | { type: "kubelet.stop" };

interface KubeletPort {
  readLog(request: KubeletLogsRequest): Promise<KubeletLogsReply>;
  unfollow(follower: string): void;
  followers(): { count: number; limit: number };
  pods(): PodSummary[];
  readonly exec: ExecSessions;
  stats(): KubeletSummary;
}

/** The kubelet's actor: routes asks to the kubelet; the work is in `Kubelet`. */
export const kubeletMachine = setup({
  types: {
    context: {} as { port: KubeletPort; served: number },
    input: {} as { port: KubeletPort },
    events: {} as KubeletActorEvent,
  },
  actions: {
    answerLogs: ({ context, event }) => {
      if (event.type !== "kubelet.logs") return;
      answerAsk(event, () => context.port.readLog(event.body));
    },
    unfollow: ({ context, event }) => {
      if (event.type === "kubelet.logs.unfollow" && typeof event.body?.follower === "string")
        context.port.unfollow(event.body.follower);
    },
    answerFollowers: ({ context, event }) =>
      event.type === "kubelet.followers" && event.reply?.(context.port.followers()),
    answerPods: ({ context, event }) =>
      event.type === "kubelet.pods" && event.reply?.(context.port.pods()),
    countServed: assign(({ context }) => ({ served: context.served + 1 })),
    answerStats: ({ context, event }) =>
      event.type === "kubelet.stats" && event.reply?.(context.port.stats()),
    startExec: ({ context, event }) =>
      event.type === "kubelet.exec.start" && event.reply?.(context.port.exec.start(event.body)),
    /** The streaming messages of a running exec session, each to its session. */
    relayExec: ({ context, event }) => {
      const exec = context.port.exec;
      const body = event.type.startsWith("kubelet.exec.")
        ? (event as { body?: unknown }).body
        : null;
      if (body === null || typeof body !== "object") return;
      const b = body as {
        session: string;
        data?: Uint8Array;
        width?: number;
        height?: number;
        bytes?: number;
      };
      if (event.type === "kubelet.exec.stdin" && b.data) exec.stdin(b.session, b.data);
      if (event.type === "kubelet.exec.stdin.close") exec.closeStdin(b.session);
      if (event.type === "kubelet.exec.resize")
        exec.resize(b.session, Number(b.width), Number(b.height));
      if (event.type === "kubelet.exec.credit") exec.credit(b.session, Number(b.bytes));
      if (event.type === "kubelet.exec.cancel") exec.cancel(b.session);
    },
  },
}).createMachine({
  id: "kubelet",
  context: ({ input }) => ({ port: input.port, served: 0 }),
  initial: "serving",
  states: {
    serving: {
      on: {
        "kubelet.logs": { actions: ["answerLogs", "countServed"] },
        "kubelet.logs.unfollow": { actions: "unfollow" },
        "kubelet.followers": { actions: ["answerFollowers", "countServed"] },
        "kubelet.pods": { actions: ["answerPods", "countServed"] },
        "kubelet.exec.start": { actions: ["startExec", "countServed"] },
        "kubelet.stats": { actions: ["answerStats", "countServed"] },
        "kubelet.exec.stdin": { actions: "relayExec" },
        "kubelet.exec.stdin.close": { actions: "relayExec" },
        "kubelet.exec.resize": { actions: "relayExec" },
        "kubelet.exec.credit": { actions: "relayExec" },
        "kubelet.exec.cancel": { actions: "relayExec" },
        "kubelet.stop": "stopped",
      },
    },
    stopped: { type: "final" },
  },
});

class Kubelet implements KubeletHandle, KubeletPort {
  readonly nodeName: string;
  readonly runtime: ContainerRuntime;
  private readonly limits: KubeletLimits;
  private readonly allocator: PodIpAllocator;
  private readonly statuses: PodStatusManager;
  private readonly workers = new Map<string, PodWorker>();
  /** Uids of pods that finished before we saw them, or whose worker is done: never rerun. */
  private readonly finished = new Set<string>();
  private readonly hostIP: string;
  private readonly facts: NodeFacts;
  private informer: Informer | null = null;
  /** Services of every namespace, for the containers' Service variables. */
  private services: Informer | null = null;
  private servicesListed: Promise<void> = Promise.resolve();
  private heartbeatActor: AnyActorRef | null = null;
  private actor: AnyActorRef | null = null;
  private stopped = false;
  private readonly removals = new Set<Promise<void>>();
  private readonly logFollowers: LogFollowers;
  readonly exec: ExecSessions;
  private readonly sampler: StatsSampler;
  /** Pod IPs of re-adoptable containers, claimed at start until their pods take them. */
  private readonly recoveredIPs = new Map<string, string>();
  /** The kubelet actor's name in the system; its pods' statecharts are its children. */
  private readonly actorName: string;
  private readonly events: EventBroadcaster | null;
  private readonly recorder: EventRecorder | undefined;

  constructor(private readonly options: KubeletOptions) {
    this.nodeName = options.nodeName;
    this.actorName = options.actorName ?? KUBELET_ACTOR;
    this.limits = { ...DEFAULT_KUBELET_LIMITS, ...options.limits };
    this.hostIP = options.hostIP ?? "127.0.0.1";
    this.allocator = options.podIpAllocator ?? new PodIpAllocator();
    this.runtime =
      options.runtime ??
      new ProcessRuntime({
        rootDir: options.rootDir,
        clock: options.clock,
        logger: options.logger,
        limits: this.limits,
      });
    this.logFollowers = new LogFollowers(options.clock, this.limits);
    this.sampler = new StatsSampler({
      runtime: this.runtime,
      clock: options.clock,
      nodeName: options.nodeName,
      pods: () =>
        [...this.workers.values()].map((w) => ({
          namespace: w.namespace,
          name: w.name,
          uid: w.uid,
          containers: this.containerRecords(w).flatMap((c) => (c.handle ? [c.handle] : [])),
        })),
    });
    this.exec = new ExecSessions({
      runtime: this.runtime,
      find: (request) => this.execTarget(request),
      send: (to, kind, body) =>
        options.system.tell(
          options.system.address(options.actorName ?? KUBELET_ACTOR),
          to,
          kind,
          body,
        ),
      maxExecSessions: this.limits.maxExecSessions,
    });
    this.events =
      options.recordEvents === false
        ? null
        : new EventBroadcaster({
            api: options.api,
            clock: options.clock,
            onError: (problem) => options.logger.debug(problem),
          });
    this.recorder = this.events?.newRecorder({ component: "kubelet", host: options.nodeName });
    this.statuses = new PodStatusManager(
      options.api,
      this.limits.maxStatusPatchesInFlight,
      (e, pod) => options.logger.warn({ pod, error: String(e) }, "pod status patch failed"),
    );
    this.facts = {
      nodeName: options.nodeName,
      hostIP: this.hostIP,
      capacity: options.capacity ?? machineCapacity(this.limits.maxPods),
      labels: nodeLabels(options.nodeName, options.labels ?? {}),
      taints: options.taints ?? [],
      maxPods: this.limits.maxPods,
      ...(options.podCIDR ? { podCIDR: options.podCIDR } : {}),
    };
  }

  async start(): Promise<void> {
    const { options } = this;
    await mkdir(join(options.rootDir, "pods"), { recursive: true });
    const recovered = (await this.runtime.recoverContainers?.()) ?? { containers: [], podUids: [] };
    for (const c of recovered.containers) {
      // claimed before any new pod can be handed the address the container listens on
      if (c.podIP !== null && !this.recoveredIPs.has(c.podUid) && this.allocator.claim(c.podIP))
        this.recoveredIPs.set(c.podUid, c.podIP);
    }
    if (recovered.containers.length > 0)
      options.logger.info(
        { containers: recovered.containers.map((c) => `${c.podUid}/${c.containerName}`) },
        "found containers a previous kubelet left running",
      );
    const name = this.actorName;
    this.actor = options.system.spawn(name, kubeletMachine, {
      input: { port: this },
      supervise: false,
    });
    this.heartbeatActor = options.system.spawn(`${name}:node-lease`, nodeLeaseMachine, {
      input: {
        deps: {
          api: options.api,
          clock: options.clock,
          facts: this.facts,
          limits: this.limits,
          ...(this.recorder ? { events: this.recorder } : {}),
        },
      },
      supervise: false,
    });
    if (options.serviceEnvironment !== false) this.watchServices(name);
    this.informer = Informer.start({
      resource: "pods",
      fieldSelector: `spec.nodeName=${options.nodeName}`,
      source: options.api,
      clock: options.clock,
      system: options.system,
      name: `${name}:pods`,
      // handlers run inside the informer's actions: drive the pod statecharts after them
      // (microtasks keep the events' order)
      handlers: {
        add: (pod) => queueMicrotask(() => this.syncPod(pod)),
        update: (_, pod) => queueMicrotask(() => this.syncPod(pod)),
        delete: (pod) => queueMicrotask(() => this.podObjectGone(pod)),
      },
    });
    if (recovered.podUids.length > 0) this.sweepAfterFirstList(recovered);
    // hollow nodes have nothing to measure
    if (options.runtime === undefined) this.sampler.start();
  }

  /**
   * The Services informer (kubelet's serviceLister): Kubernetes' kubelet refuses to build a
   * container's environment before it has listed Services once, so a pod does not start without
   * the variables of Services that existed; so here, `preparePod` waits for the first list.
   */
  private watchServices(name: string): void {
    const informer = Informer.start({
      resource: "services",
      source: this.options.api,
      clock: this.options.clock,
      system: this.options.system,
      name: `${name}:services`,
      handlers: {},
    });
    this.services = informer;
    this.servicesListed = new Promise<void>((resolve) => {
      const check = () => {
        if (!informer.hasSynced()) return;
        subscription.unsubscribe();
        resolve();
      };
      const subscription = informer.actor.subscribe(check);
      check();
    });
  }

  /** The host's resolv.conf, read once (the kubelet's --resolv-conf is read at start too). */
  private hostResolvConf: ResolvConf | null = null;

  private resolvConf(
    pod: JsonObject,
    dns: { nameserver: string; domain: string; hostResolvConf?: string },
  ): string {
    if (this.hostResolvConf === null) {
      try {
        this.hostResolvConf = parseResolvConf(
          readFileSync(dns.hostResolvConf ?? "/etc/resolv.conf", "utf8"),
        );
      } catch {
        this.hostResolvConf = EMPTY_RESOLV_CONF;
      }
    }
    return renderResolvConf(podResolvConf(pod, this.hostResolvConf, dns));
  }

  private serviceEnv(pod: JsonObject): Record<string, string> {
    if (this.services === null) return {};
    const meta = asObject(pod.metadata);
    return serviceEnvForPod(
      this.services.list(),
      String(meta.namespace ?? "default"),
      asObject(pod.spec).enableServiceLinks !== false,
    );
  }

  /**
   * Once the first list of the pods bound here is in: what a previous kubelet left for pods that
   * will not run here (gone, bound elsewhere, finished, being deleted) is killed and removed.
   */
  private sweepAfterFirstList(recovered: RecoveredPods): void {
    const informer = this.informer;
    if (informer === null) return;
    let swept = false;
    const sweep = () => {
      if (swept || !informer.hasSynced()) return;
      swept = true;
      subscription.unsubscribe();
      // after the list's add handlers (microtasks queued before this one) made their workers
      queueMicrotask(() => void this.removeUnboundPods(recovered, informer.list()));
    };
    const subscription = informer.actor.subscribe(sweep);
    sweep();
  }

  private async removeUnboundPods(recovered: RecoveredPods, bound: JsonObject[]): Promise<void> {
    if (this.stopped) return;
    const keep = new Set(this.workers.keys());
    for (const pod of bound) {
      const meta = asObject(pod.metadata);
      const phase = asObject(pod.status).phase;
      if (typeof meta.deletionTimestamp === "string") continue;
      if (phase === "Succeeded" || phase === "Failed") continue;
      keep.add(String(meta.uid ?? ""));
    }
    for (const uid of recovered.podUids) {
      if (keep.has(uid)) continue;
      const ip = this.recoveredIPs.get(uid);
      if (ip !== undefined) this.allocator.release(ip);
      this.recoveredIPs.delete(uid);
      try {
        await this.runtime.removePod(uid);
        this.options.logger.info({ podUid: uid }, "removed a pod a previous kubelet ran here");
      } catch (error) {
        this.options.logger.warn({ podUid: uid, error: String(error) }, "pod cleanup failed");
      }
    }
  }

  heartbeat() {
    const snapshot = this.heartbeatActor?.getSnapshot() as
      | { value: unknown; context: { renewals: number; lastError: string | null } }
      | undefined;
    return {
      state: snapshot?.value ?? null,
      renewals: snapshot?.context.renewals ?? 0,
      lastError: snapshot?.context.lastError ?? null,
    };
  }

  pods(): PodSummary[] {
    return [...this.workers.values()].map((w) => ({
      namespace: w.namespace,
      name: w.name,
      uid: w.uid,
      state: w.actor.getSnapshot().value,
    }));
  }

  private syncPod(pod: JsonObject): void {
    if (this.stopped) return;
    const meta = asObject(pod.metadata);
    const uid = String(meta.uid ?? "");
    if (!uid) return;
    const worker = this.workers.get(uid);
    const deleting = typeof meta.deletionTimestamp === "string";
    if (worker) {
      this.statuses.reconcile(uid, pod);
      worker.actor.send({ type: "pod.updated", pod });
      if (deleting) {
        worker.deleteObject = true;
        worker.actor.send({ type: "pod.deleted", ...this.deletionGrace(pod) });
      }
      return;
    }
    if (deleting) {
      // nothing runs for it here: let the object go
      void this.deleteObject(String(meta.namespace), String(meta.name), uid);
      return;
    }
    const phase = asObject(pod.status).phase;
    if (this.finished.has(uid) || phase === "Succeeded" || phase === "Failed") return;
    if (this.workers.size >= this.limits.maxPods) {
      this.options.logger.warn({ pod: meta.name }, "maxPods reached; pod not started");
      return;
    }
    this.startWorker(pod);
  }

  private deletionGrace(pod: JsonObject): { gracePeriodMs?: number } {
    const seconds = asObject(pod.metadata).deletionGracePeriodSeconds;
    return typeof seconds === "number" ? { gracePeriodMs: seconds * 1000 } : {};
  }

  private startWorker(pod: JsonObject): void {
    const meta = asObject(pod.metadata);
    const uid = String(meta.uid);
    const namespace = String(meta.namespace ?? "default");
    const name = String(meta.name);
    const worker: PodWorker = {
      uid,
      namespace,
      name,
      actor: null as unknown as AnyActorRef,
      podIP: null,
      deleteObject: false,
      objectGone: false,
    };
    const dns =
      this.options.dns === undefined
        ? { nameserver: KUBE_DNS_SERVICE_IP, domain: DEFAULT_CLUSTER_DOMAIN }
        : this.options.dns;
    const deps = {
      runtime: this.runtime,
      probes: this.options.probes ?? new NetworkProbeRunner(this.runtime, this.options.clock),
      clock: this.options.clock,
      limits: this.limits,
      nodeName: this.nodeName,
      hostIP: this.hostIP,
      prepare: (p: JsonObject) => this.preparePod(worker, p),
      serviceEnv: (p: JsonObject) => this.serviceEnv(p),
      ...(dns !== null ? { resolvConf: (p: JsonObject) => this.resolvConf(p, dns) } : {}),
      containerConfig: (p: JsonObject, container: JsonObject, podIP: string) =>
        this.containerConfig(p, container, podIP),
      ...(this.recorder ? { events: this.recorder } : {}),
      report: (status: JsonObject) => {
        if (!worker.objectGone) this.statuses.report(uid, namespace, name, status);
      },
    };
    // the pod's statechart is the kubelet's child in the actor system (`nX/kubelet/pod:ns/name`),
    // so the inspector shows it; a pod recreated under the same name while the old one is still
    // terminating gets its uid's prefix
    const system = this.options.system;
    const parent = this.actorName;
    const child = system.has(`${parent}/pod:${namespace}/${name}`)
      ? `pod:${namespace}/${name}@${uid.slice(0, 8)}`
      : `pod:${namespace}/${name}`;
    this.workers.set(uid, worker);
    try {
      worker.actor = system.spawnChild(parent, child, podLifecycleMachine, {
        input: { pod, deps },
      });
    } catch (error) {
      this.workers.delete(uid);
      this.options.logger.error({ pod: name, error: String(error) }, "pod statechart not started");
      return;
    }
    worker.actor.subscribe({
      next: (snapshot: { status: string }) => {
        if (snapshot.status === "done") this.workerDone(worker);
      },
      error: (error: unknown) => {
        this.options.logger.error({ pod: name, error: String(error) }, "pod statechart failed");
        this.workerDone(worker);
      },
    });
    // it may have finished while starting (before the subscription above could see it)
    if (worker.actor.getSnapshot().status === "done") this.workerDone(worker);
  }

  private async preparePod(worker: PodWorker, pod: JsonObject): Promise<PreparedPod> {
    const previous = asObject(pod.status).podIP;
    const recoveredIP = this.recoveredIPs.get(worker.uid);
    this.recoveredIPs.delete(worker.uid);
    // a pod we ran before a restart keeps its address: its containers' (already claimed), else
    // the reported one when it is free
    const podIP =
      worker.podIP ??
      recoveredIP ??
      (typeof previous === "string" && this.allocator.claim(previous)
        ? previous
        : this.allocator.allocate());
    worker.podIP = podIP;
    const sources: VolumeSources = {
      configMap: (namespace, name) => this.getOrNull("configmaps", namespace, name),
      secret: (namespace, name) => this.getOrNull("secrets", namespace, name),
      serviceAccountToken: async (request) => {
        const tokenRequest = await this.options.api.create(
          "serviceaccounts",
          {
            apiVersion: "authentication.k8s.io/v1",
            kind: "TokenRequest",
            metadata: { name: request.serviceAccount },
            spec: {
              ...(request.audience !== null ? { audiences: [request.audience] } : {}),
              expirationSeconds: request.expirationSeconds,
              boundObjectRef: {
                kind: "Pod",
                apiVersion: "v1",
                name: request.podName,
                uid: request.podUid,
              },
            },
          },
          { namespace: request.namespace, subresource: "token" },
        );
        return String(asObject(tokenRequest.status).token ?? "");
      },
      claimDirectory: async (namespace, claim) => {
        const pvc = await this.getOrNull("persistentvolumeclaims", namespace, claim);
        const volumeName = asString(asObject(pvc?.spec).volumeName);
        if (volumeName === "") return null;
        const pv = await this.getOrNull("persistentvolumes", "", volumeName);
        return claimedVolumeDirectory(pv);
      },
    };
    const podDir = join(this.options.rootDir, "pods", worker.uid);
    const volumes = await prepareVolumes(pod, podDir, sources);
    await this.servicesListed;
    if (this.runtime.honoursMountPaths === false && hasVolumeMounts(pod))
      podEventsFor(this.recorder, pod).warning(
        "MountPathNotHonoured",
        "volumes are not mounted at their mountPath (the kubelet is not root, or BOSUN_POD_SANDBOX=off): containers find them at ./<mountPath> under their working directory and in $BOSUN_VOLUME_<NAME>",
      );
    return { podIP, volumes: Object.fromEntries(volumes) };
  }

  private async getOrNull(
    resource: string,
    namespace: string,
    name: string,
  ): Promise<JsonObject | null> {
    try {
      return await this.options.api.get(resource, name, { namespace });
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  /** A container's env, command and args, from the ConfigMaps and Secrets it names (read now). */
  private async containerConfig(
    pod: JsonObject,
    container: JsonObject,
    podIP: string,
  ): Promise<ContainerConfig> {
    const namespace = String(asObject(pod.metadata).namespace ?? "default");
    const wanted = envReferences(container);
    const fetch = async (resource: string, names: string[]) =>
      new Map(
        await Promise.all(
          names.map(async (n) => [n, await this.getOrNull(resource, namespace, n)] as const),
        ),
      );
    return resolveContainerConfig({
      pod,
      container,
      podIP,
      hostIP: this.hostIP,
      nodeName: this.nodeName,
      nodeAllocatable: this.facts.capacity,
      sources: {
        configMaps: await fetch("configmaps", wanted.configMaps),
        secrets: await fetch("secrets", wanted.secrets),
      },
      // the container's own variables win over the Services' (kubelet's makeEnvironmentVariables)
      serviceEnv: this.serviceEnv(pod),
    });
  }

  private podObjectGone(pod: JsonObject): void {
    const uid = String(asObject(pod.metadata).uid ?? "");
    const worker = this.workers.get(uid);
    if (!worker) return;
    worker.objectGone = true;
    this.statuses.forget(uid);
    worker.actor.send({ type: "pod.deleted", ...this.deletionGrace(pod) });
  }

  private workerDone(worker: PodWorker): void {
    if (this.workers.get(worker.uid) !== worker) return;
    const removal = (async () => {
      try {
        await this.runtime.removePod(worker.uid);
      } catch (error) {
        this.options.logger.warn({ pod: worker.name, error: String(error) }, "pod cleanup failed");
      }
      if (worker.podIP) this.allocator.release(worker.podIP);
      this.workers.delete(worker.uid);
      this.finished.add(worker.uid);
      this.statuses.forget(worker.uid);
      if (worker.deleteObject && !worker.objectGone && !this.stopped)
        await this.deleteObject(worker.namespace, worker.name, worker.uid);
    })();
    this.removals.add(removal);
    void removal.finally(() => this.removals.delete(removal));
  }

  private async deleteObject(namespace: string, name: string, uid: string): Promise<void> {
    try {
      await this.options.api.delete("pods", name, {
        namespace,
        preconditions: { uid },
        gracePeriodSeconds: 0, // the containers are gone: the pod object goes now
      });
    } catch (error) {
      if (isNotFound(error) || isConflict(error)) return;
      this.options.logger.warn({ pod: name, error: String(error) }, "pod delete failed");
    }
  }

  private workerFor(namespace: string, pod: string): PodWorker | undefined {
    for (const w of this.workers.values())
      if (w.namespace === namespace && w.name === pod) return w;
    return undefined;
  }

  private containerRecords(worker: PodWorker): ContainerRecord[] {
    const snapshot = worker.actor.getSnapshot() as { context: { containers: ContainerRecord[] } };
    return snapshot.context.containers;
  }

  /** A log's container name, checked with Kubernetes' messages (its validateContainer). */
  private containerOf(
    worker: PodWorker,
    container: string | undefined,
  ): ContainerRecord | { refused: string } {
    const records = this.containerRecords(worker);
    if (container === undefined) {
      if (records.length === 1) return records[0]!;
      return {
        refused: `a container name must be specified for pod ${worker.name}, choose one of: [${records.map((c) => c.name).join(" ")}]`,
      };
    }
    return (
      records.find((c) => c.name === container) ?? {
        refused: `container ${container} is not valid for pod ${worker.name}`,
      }
    );
  }

  async readLog(request: KubeletLogsRequest): Promise<KubeletLogsReply> {
    const { namespace, pod, follower } = request;
    const worker = this.workerFor(namespace, pod);
    if (worker === undefined) {
      return {
        refused: "NotFound",
        message: `pod "${pod}" in namespace "${namespace}" is not running on node ${this.nodeName}`,
      };
    }
    const record = this.containerOf(worker, request.container);
    if ("refused" in record) return { refused: "BadRequest", message: record.refused };
    if (follower !== undefined && !this.logFollowers.admit(follower)) {
      return {
        refused: "TooManyRequests",
        message: `node ${this.nodeName} already streams ${this.limits.maxLogFollowers} followed logs (maxLogFollowers)`,
      };
    }
    // whether it runs is read before the file: bytes written before an exit are then all read
    const source =
      request.attempt !== undefined
        ? { attempt: request.attempt, running: runningAttempt(record) === request.attempt }
        : logSource(record, pod, request.previous === true);
    if ("refused" in source) return { refused: "BadRequest", message: source.refused };
    let chunk: { text: string; nextByte: number; sizeBytes?: number };
    try {
      chunk = await this.runtime.logs(worker.uid, record.name, {
        attempt: source.attempt,
        ...(request.sinceByte !== undefined ? { sinceByte: request.sinceByte } : {}),
      });
    } catch {
      const message =
        request.previous === true
          ? `previous terminated container "${record.name}" in pod "${pod}" not found`
          : `container "${record.name}" in pod "${pod}" has no logs`;
      return { refused: "BadRequest", message };
    }
    let text = chunk.text;
    if (request.tailLines !== undefined && request.sinceByte === undefined)
      text = tailLines(text, request.tailLines);
    const whole = text;
    if (request.limitBytes !== undefined) text = limitBytes(text, request.limitBytes);
    // a stream ends at its limitBytes (Kubernetes'), so a cut text is its last
    const cut = text !== whole;
    const left = chunk.sizeBytes !== undefined && chunk.nextByte < chunk.sizeBytes;
    return {
      text,
      nextByte: chunk.nextByte,
      attempt: source.attempt,
      more: !cut && (source.running || left),
    };
  }

  /** The running container an exec names, with Kubernetes' messages when there is none. */
  private execTarget(
    request: ExecStartRequest,
  ): ContainerHandle | { refused: ExecRefusal; message: string } {
    const worker = this.workerFor(request.namespace, request.pod);
    if (worker === undefined)
      return {
        refused: "NotFound",
        message: `pod "${request.pod}" in namespace "${request.namespace}" is not running on node ${this.nodeName}`,
      };
    const record = this.containerOf(worker, request.container);
    if ("refused" in record) return { refused: "BadRequest", message: record.refused };
    if (record.handle === null)
      return { refused: "BadRequest", message: `container ${record.name} is not running` };
    return record.handle;
  }

  /** The Summary API (stats-protocol.ts). */
  stats(): KubeletSummary {
    return this.sampler.summary();
  }

  unfollow(follower: string): void {
    this.logFollowers.release(follower);
  }

  followers(): { count: number; limit: number } {
    return { count: this.logFollowers.count(), limit: this.limits.maxLogFollowers };
  }

  async logs(namespace: string, pod: string, container?: string, options: LogOptions = {}) {
    const reply = await this.readLog({
      namespace,
      pod,
      ...options,
      ...(container ? { container } : {}),
    });
    if ("refused" in reply) throw new Error(reply.message);
    return reply.text;
  }

  async stop(options: { leaveContainers?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.informer?.stop();
    this.services?.stop();
    this.events?.stop();
    this.exec.stop();
    this.sampler.stop();
    this.heartbeatActor?.send({ type: "heartbeat.stop" });
    this.actor?.send({ type: "kubelet.stop" });
    if (!options.leaveContainers) {
      const done = [...this.workers.values()].map(
        (w) =>
          new Promise<void>((resolve) => {
            const sub = w.actor.subscribe((s: { status: string }) => {
              if (s.status === "done") {
                sub.unsubscribe();
                resolve();
              }
            });
            if (w.actor.getSnapshot().status === "done") resolve();
            w.actor.send({ type: "pod.deleted" });
          }),
      );
      await Promise.all(done);
      await Promise.all([...this.removals]);
    }
    for (const w of this.workers.values()) w.actor.stop();
    if (options.leaveContainers && this.runtime instanceof ProcessRuntime) this.runtime.detach();
  }
}

function hasVolumeMounts(pod: JsonObject): boolean {
  const containers = (asObject(pod.spec).containers ?? []) as JsonObject[];
  return containers.some((c) => Array.isArray(c.volumeMounts) && c.volumeMounts.length > 0);
}

/** Starts a kubelet for `nodeName`; resolves once it runs (the Node registers in the background). */
export async function startKubelet(options: KubeletOptions): Promise<KubeletHandle> {
  const kubelet = new Kubelet(options);
  await kubelet.start();
  return kubelet;
}
