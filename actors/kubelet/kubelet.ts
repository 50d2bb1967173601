/**
 * The kubelet (DESIGN §7): registers its Node and renews its Lease (node-lease.ts), watches the
 * pods bound to it (an informer with `spec.nodeName=<node>`), and runs each through a pod
 * statechart (pod-lifecycle.ts) on a container runtime (process-runtime.ts by default).
 *
 * - A pod with a deletionTimestamp is terminated (SIGTERM, SIGKILL after its grace period),
 *   then its object is deleted (grace period 0, uid precondition). A pod object deleted outright
 *   is terminated the same way.
 * - Finished pods (Succeeded/Failed) found at start are not run again.
 * - At start, processes a previous kubelet left (pid files under rootDir) are killed; the pods'
 *   statecharts then start their containers afresh (restart counts start over).
 * - `logs()` reads a container's log; the `kubelet` actor answers `kubelet.logs` asks with it
 *   (what the API server's pods/log will call).
 *
 *   kubelet.logs {namespace, pod, container?, previous?, sinceByte?} → {text, nextByte}
 *   kubelet.pods {}                                        → [{namespace, name, uid, state}]
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { type AnyActorRef, assign, createActor, setup } from "xstate";
import { asObject, type JsonObject } from "../api/json.ts";
import type { ApiClient } from "../apiserver/api-client.ts";
import { ApiError } from "../apiserver/api-error.ts";
import { Informer } from "../controllers/informer.ts";
import type { ActorSystem } from "../system/actor-system.ts";
import { type Clock, sleep } from "../system/clock.ts";
import type { ActorMessage } from "../system/message.ts";
import { DEFAULT_KUBELET_LIMITS, type KubeletLimits } from "./limits.ts";
import { nodeLeaseMachine } from "./node-lease.ts";
import { machineCapacity, type NodeFacts, nodeLabels } from "./node-object.ts";
import { PodIpAllocator } from "./pod-ip-allocator.ts";
import { type PreparedPod, podLifecycleMachine } from "./pod-lifecycle.ts";
import { PodStatusManager } from "./pod-status-manager.ts";
import { NetworkProbeRunner, type ProbeRunner } from "./probes.ts";
import { ProcessRuntime } from "./process-runtime.ts";
import type { ContainerRuntime } from "./runtime.ts";
import { prepareVolumes, type VolumeSources } from "./volumes.ts";

export const KUBELET_ACTOR = "kubelet";
/** How often a followed log is polled for new bytes. */
const LOG_FOLLOW_POLL_MS = 200;

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
  runtime?: ContainerRuntime;
  /** Runs probes (default: exec through the runtime, httpGet and tcpSocket over the network). */
  probes?: ProbeRunner;
  limits?: Partial<KubeletLimits>;
  /** The kubelet actor's name in `system` (default `kubelet`). */
  actorName?: string;
}

export interface LogOptions {
  previous?: boolean;
  follow?: boolean;
  sinceByte?: number;
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
  /** A container's log: the whole text, or (follow) chunks as they are written. */
  logs(namespace: string, pod: string, container?: string, options?: LogOptions): Promise<string>;
  followLogs(namespace: string, pod: string, container?: string): AsyncIterable<string>;
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
  | ActorMessage<
      "kubelet.logs",
      { namespace: string; pod: string; container?: string; previous?: boolean; sinceByte?: number }
    >
  | ActorMessage<"kubelet.pods", null>
  | { type: "kubelet.stop" };

interface KubeletPort {
  logChunk(
    namespace: string,
    pod: string,
    container: string | undefined,
    options: { previous?: boolean; sinceByte?: number },
  ): Promise<{ text: string; nextByte: number }>;
  pods(): PodSummary[];
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
      const b = event.body;
      context.port.logChunk(b.namespace, b.pod, b.container, b).then(
        (chunk) => event.reply?.(chunk),
        (error: Error) => event.fail?.(error.message),
      );
    },
    answerPods: ({ context, event }) =>
      event.type === "kubelet.pods" && event.reply?.(context.port.pods()),
    countServed: assign(({ context }) => ({ served: context.served + 1 })),
  },
}).createMachine({
  id: "kubelet",
  context: ({ input }) => ({ port: input.port, served: 0 }),
  initial: "serving",
  states: {
    serving: {
      on: {
        "kubelet.logs": { actions: ["answerLogs", "countServed"] },
        "kubelet.pods": { actions: ["answerPods", "countServed"] },
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
  private heartbeatActor: AnyActorRef | null = null;
  private actor: AnyActorRef | null = null;
  private stopped = false;
  private readonly removals = new Set<Promise<void>>();

  constructor(private readonly options: KubeletOptions) {
    this.nodeName = options.nodeName;
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
    };
  }

  async start(): Promise<void> {
    const { options } = this;
    await mkdir(join(options.rootDir, "pods"), { recursive: true });
    if (this.runtime instanceof ProcessRuntime) {
      const killed = await this.runtime.cleanupOrphans();
      if (killed.length > 0) options.logger.info({ pids: killed }, "killed orphaned containers");
    }
    const name = options.actorName ?? KUBELET_ACTOR;
    this.actor = options.system.spawn(name, kubeletMachine, {
      input: { port: this },
      supervise: false,
    });
    this.heartbeatActor = options.system.spawn(`${name}:node-lease`, nodeLeaseMachine, {
      input: {
        deps: { api: options.api, clock: options.clock, facts: this.facts, limits: this.limits },
      },
      supervise: false,
    });
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
    const deps = {
      runtime: this.runtime,
      probes: this.options.probes ?? new NetworkProbeRunner(this.runtime, this.options.clock),
      clock: this.options.clock,
      limits: this.limits,
      nodeName: this.nodeName,
      hostIP: this.hostIP,
      prepare: (p: JsonObject) => this.preparePod(worker, p),
      report: (status: JsonObject) => {
        if (!worker.objectGone) this.statuses.report(uid, namespace, name, status);
      },
    };
    worker.actor = createActor(podLifecycleMachine, {
      input: { pod, deps },
      clock: this.options.clock,
    });
    this.workers.set(uid, worker);
    worker.actor.subscribe({
      next: (snapshot: { status: string }) => {
        if (snapshot.status === "done") this.workerDone(worker);
      },
      error: (error: unknown) => {
        this.options.logger.error({ pod: name, error: String(error) }, "pod statechart failed");
        this.workerDone(worker);
      },
    });
    worker.actor.start();
  }

  private async preparePod(worker: PodWorker, pod: JsonObject): Promise<PreparedPod> {
    const previous = asObject(pod.status).podIP;
    // a pod we ran before a restart keeps its address when it is free
    const podIP =
      worker.podIP ??
      (typeof previous === "string" && this.allocator.claim(previous)
        ? previous
        : this.allocator.allocate());
    worker.podIP = podIP;
    const api = this.options.api;
    const lookup = (resource: string) => async (namespace: string, name: string) => {
      try {
        return await api.get(resource, name, { namespace });
      } catch (error) {
        if (error instanceof ApiError && error.status.code === 404) return null;
        throw error;
      }
    };
    const sources: VolumeSources = { configMap: lookup("configmaps"), secret: lookup("secrets") };
    const podDir = join(this.options.rootDir, "pods", worker.uid);
    const volumes = await prepareVolumes(pod, podDir, sources);
    return { podIP, volumes: Object.fromEntries(volumes) };
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
      if (error instanceof ApiError && (error.status.code === 404 || error.status.code === 409))
        return;
      this.options.logger.warn({ pod: name, error: String(error) }, "pod delete failed");
    }
  }

  private workerFor(namespace: string, pod: string): PodWorker {
    for (const w of this.workers.values())
      if (w.namespace === namespace && w.name === pod) return w;
    throw new Error(`pod "${pod}" in namespace "${namespace}" is not running on ${this.nodeName}`);
  }

  private containerOf(worker: PodWorker, container: string | undefined): string {
    const snapshot = worker.actor.getSnapshot() as { context: { containers: { name: string }[] } };
    const names = snapshot.context.containers.map((c) => c.name);
    if (container === undefined) {
      if (names.length === 1) return names[0]!;
      throw new Error(
        `a container name must be specified for pod ${worker.name}, choose one of: [${names.join(" ")}]`,
      );
    }
    if (!names.includes(container))
      throw new Error(`container ${container} is not valid for pod ${worker.name}`);
    return container;
  }

  logChunk(
    namespace: string,
    pod: string,
    container: string | undefined,
    options: { previous?: boolean; sinceByte?: number },
  ): Promise<{ text: string; nextByte: number }> {
    try {
      const worker = this.workerFor(namespace, pod);
      return this.runtime.logs(worker.uid, this.containerOf(worker, container), options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async logs(namespace: string, pod: string, container?: string, options: LogOptions = {}) {
    if (options.follow) {
      let text = "";
      for await (const chunk of this.followLogs(namespace, pod, container)) text += chunk;
      return text;
    }
    return (await this.logChunk(namespace, pod, container, options)).text;
  }

  /** Chunks as they are written, until the pod stops running here. */
  async *followLogs(namespace: string, pod: string, container?: string): AsyncIterable<string> {
    let sinceByte = 0;
    for (;;) {
      let chunk: { text: string; nextByte: number };
      try {
        chunk = await this.logChunk(namespace, pod, container, { sinceByte });
      } catch {
        return;
      }
      if (chunk.text) yield chunk.text;
      sinceByte = chunk.nextByte;
      await sleep(this.options.clock, LOG_FOLLOW_POLL_MS);
    }
  }

  async stop(options: { leaveContainers?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.informer?.stop();
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
  }
}

/** Starts a kubelet for `nodeName`; resolves once it runs (the Node registers in the background). */
export async function startKubelet(options: KubeletOptions): Promise<KubeletHandle> {
  const kubelet = new Kubelet(options);
  await kubelet.start();
  return kubelet;
}
