/**
 * One pod on this node, as a statechart (the kubelet's pod worker):
 *
 *   pending ──prepared──▶ starting ──started──▶ running ──a container exited, will restart──▶ backoff
 *     │ (IP, volumes)        ▲   └──start failed (ErrImagePull, …)──────────────────────────▶ │
 *     │                      └───────────────────── after CrashLoopBackOff delay ◀─────────────┘
 *     │
 *   any state ──pod.deleted──▶ terminating (SIGTERM, SIGKILL after the grace period) ──▶ terminated
 *   running/backoff ──every container done, none restarts (restartPolicy)──▶ terminated
 *   terminated ──deleted──▶ removed (final: the kubelet cleans up and deletes the pod object)
 *   active states ──past activeDeadlineSeconds──▶ terminating ──▶ terminated (Failed,
 *                    DeadlineExceeded; see active-deadline.ts)
 *
 * Containers restart per restartPolicy (Always; OnFailure on a non-zero exit; Never) after
 * CrashLoopBackOff: `crashLoopBackoffInitialMs` doubling per restart up to the max, reset after
 * a run longer than `crashLoopBackoffResetMs`. A failed liveness (or startup) probe kills the
 * container; its exit then restarts it like a crash. Readiness gates the container's `ready`.
 * Every change is reported through `report` (the status manager patches pods/status).
 *
 * While one container of a multi-container pod waits in backoff, the others keep running but
 * are not probed (the prober runs in `running` only).
 *
 * After a kubelet restart, `starting` re-adopts a container the previous kubelet left running
 * (the runtime's `adoptContainer`) instead of starting it: same container, pid and attempt, so
 * restartCount does not move; probes start over, as Kubernetes' prober does after a restart.
 * Restart counts and lastState carry over from the pod's reported status, so a container that
 * died while no kubelet watched restarts as the next attempt.
 *
 * Each container's environment, command and args are resolved before every start
 * (container-env.ts): a missing required ConfigMap or Secret leaves it waiting with
 * CreateContainerConfigError, retried after the backoff. What happens is told as Events
 * (pod-events.ts).
 */
import { assign, fromPromise, setup } from "xstate";
import { asObject, type JsonObject } from "../api/json.ts";
import { rfc3339 } from "../api/meta-time.ts";
import { isQuantity, quantityMilliValue, quantityValue } from "../api/quantity.ts";
import type { EventRecorder } from "../client/event-recorder.ts";
import type { Clock } from "../system/clock.ts";
import {
  activeDeadlineMs,
  activeDeadlineTimer,
  DEADLINE_EXCEEDED_MESSAGE,
  DEADLINE_EXCEEDED_REASON,
} from "./active-deadline.ts";
import {
  type ContainerConfig,
  ContainerConfigError,
  NO_ENV_SOURCES,
  resolveContainerConfig,
} from "./container-env.ts";
import { crashLoopBackoffMs, type KubeletLimits } from "./limits.ts";
import { type PodEvents, podEventsFor, probeFailureDetail } from "./pod-events.ts";
import { type ContainerRecord, type ContainerState, podStatus } from "./pod-status.ts";
import type { ProbeRunner } from "./probe-runner.ts";
import { type ProbedContainer, type ProberEvent, proberLogic } from "./prober.ts";
import {
  type ContainerExit,
  type ContainerHandle,
  type ContainerRuntime,
  type ContainerSpec,
  ImagePullError,
} from "./runtime.ts";

export const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30;

export interface PreparedPod {
  podIP: string;
  /** Volume name → host directory. */
  volumes: Record<string, string>;
}

export interface PodLifecycleDeps {
  runtime: ContainerRuntime;
  probes: ProbeRunner;
  clock: Clock;
  limits: Pick<
    KubeletLimits,
    | "crashLoopBackoffInitialMs"
    | "crashLoopBackoffMaxMs"
    | "crashLoopBackoffResetMs"
    | "defaultProbeTimeoutMs"
  >;
  nodeName: string;
  hostIP: string;
  /** Allocates the pod IP and writes its volumes. */
  prepare(pod: JsonObject): Promise<PreparedPod>;
  /**
   * The Service variables for a container starting now (actors/api/service-env.ts), read at
   * each start as the kubelet does: a restarted container sees the Services of its restart.
   */
  serviceEnv?(pod: JsonObject): Record<string, string>;
  /** The pod's resolv.conf text, per its dnsPolicy (absent: the runtime writes none). */
  resolvConf?(pod: JsonObject): string;
  /** The pod's status changed (called often; the status manager coalesces). */
  report(status: JsonObject): void;
  /** Where the pod's Events go (default: nowhere). */
  events?: EventRecorder;
  /**
   * A container's environment, command and args (default: resolved without ConfigMaps and
   * Secrets); rejects with ContainerConfigError.
   */
  containerConfig?(pod: JsonObject, container: JsonObject, podIP: string): Promise<ContainerConfig>;
}

export interface PodLifecycleInput {
  pod: JsonObject;
  deps: PodLifecycleDeps;
}

interface PodContext {
  pod: JsonObject;
  deps: PodLifecycleDeps;
  podIP: string | null;
  volumes: Record<string, string>;
  containers: (ContainerRecord & { everStarted: boolean })[];
  startTimeMs: number | null;
  initialized: boolean;
  deleting: boolean;
  gracePeriodMs: number | null;
  message: string | null;
  /** When the pod became active here, for activeDeadlineSeconds (wall ms). */
  activeSinceMs: number;
  /** Past activeDeadlineSeconds: stopped, Failed with reason DeadlineExceeded, for good. */
  deadlineExceeded: boolean;
}

export type PodLifecycleEvent =
  | { type: "pod.updated"; pod: JsonObject }
  | { type: "pod.deleted"; gracePeriodMs?: number }
  | { type: "container.exited"; container: string; handleId: string; exit: ContainerExit }
  | { type: "pod.deadlineExceeded" }
  | ProberEvent;

type StartResult =
  /** `adoptedAttempt`: re-adopted from a previous kubelet, not started (see the runtime). */
  | { name: string; handle: ContainerHandle; adoptedAttempt?: number }
  | { name: string; reason: string; message: string };

const specOf = (pod: JsonObject) => asObject(pod.spec);
const metaOf = (pod: JsonObject) => asObject(pod.metadata);
const containerSpecs = (pod: JsonObject) => (specOf(pod).containers ?? []) as JsonObject[];
const containerSpecNamed = (pod: JsonObject, name: string) =>
  containerSpecs(pod).find((c) => c.name === name) ?? {};

function restartPolicyAllows(pod: JsonObject, exitCode: number): boolean {
  const policy = String(specOf(pod).restartPolicy ?? "Always");
  if (policy === "Never") return false;
  if (policy === "OnFailure") return exitCode !== 0;
  return true;
}

function gracePeriodMsOf(context: PodContext): number {
  if (context.gracePeriodMs !== null) return context.gracePeriodMs;
  const seconds = specOf(context.pod).terminationGracePeriodSeconds;
  return (typeof seconds === "number" ? seconds : DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS) * 1000;
}

/** limits.memory in bytes and limits.cpu in millicores, when set and valid. */
function containerLimits(container: JsonObject): {
  memoryLimitBytes?: number;
  cpuLimitMilli?: number;
} {
  const limits = asObject(asObject(container.resources).limits);
  const out: { memoryLimitBytes?: number; cpuLimitMilli?: number } = {};
  const memory = limits.memory as string | number | undefined;
  const cpu = limits.cpu as string | number | undefined;
  if (memory !== undefined && isQuantity(String(memory)))
    out.memoryLimitBytes = quantityValue(memory);
  if (cpu !== undefined && isQuantity(String(cpu))) out.cpuLimitMilli = quantityMilliValue(cpu);
  return out;
}

function containerPorts(container: JsonObject): { name?: string; port: number }[] {
  return ((container.ports ?? []) as JsonObject[])
    .map((p) => ({
      name: typeof p.name === "string" ? p.name : undefined,
      port: Number(p.containerPort),
    }))
    .filter((p) => p.port > 0)
    .map((p) => (p.name ? { name: p.name, port: p.port } : { port: p.port }));
}

const eventsOf = (context: PodContext): PodEvents => podEventsFor(context.deps.events, context.pod);

/** The default containerConfig: literal values and the pod's own fields only. */
function configWithoutSources(deps: PodLifecycleDeps) {
  return async (pod: JsonObject, container: JsonObject, podIP: string) =>
    resolveContainerConfig({
      pod,
      container,
      podIP,
      hostIP: deps.hostIP,
      nodeName: deps.nodeName,
      nodeAllocatable: {},
      sources: NO_ENV_SOURCES,
      serviceEnv: deps.serviceEnv?.(pod) ?? {},
    });
}

const preparePod = fromPromise<PreparedPod, { deps: PodLifecycleDeps; pod: JsonObject }>(
  ({ input }) => input.deps.prepare(input.pod),
);

const startContainers = fromPromise<StartResult[], { context: PodContext }>(async ({ input }) => {
  const { context } = input;
  const { deps, pod } = context;
  const meta = metaOf(pod);
  const results: StartResult[] = [];
  const events = eventsOf(context);
  const containerConfig = deps.containerConfig ?? configWithoutSources(deps);
  for (const c of context.containers) {
    if (c.done || c.handle !== null) continue;
    const container = containerSpecNamed(pod, c.name);
    const mounts = ((container.volumeMounts ?? []) as JsonObject[])
      .filter((m) => context.volumes[String(m.name)] !== undefined)
      .map((m) => ({
        name: String(m.name),
        mountPath: String(m.mountPath ?? ""),
        hostPath: context.volumes[String(m.name)]!,
        readOnly: m.readOnly === true,
        ...(typeof m.subPath === "string" && m.subPath !== "" ? { subPath: m.subPath } : {}),
      }));
    let config: ContainerConfig;
    try {
      config = await containerConfig(pod, container, context.podIP ?? "");
    } catch (error) {
      // Kubernetes' CreateContainerConfigError: waits, and is tried again after the backoff
      const message = error instanceof ContainerConfigError ? error.message : String(error);
      events.failed(c.name, message);
      results.push({ name: c.name, reason: "CreateContainerConfigError", message });
      continue;
    }
    for (const warning of config.warnings)
      events.warning("InvalidEnvironmentVariableNames", warning);
    const spec: ContainerSpec = {
      podUid: String(meta.uid),
      podName: String(meta.name),
      podNamespace: String(meta.namespace ?? "default"),
      containerName: c.name,
      image: c.image,
      command: config.command,
      args: config.args,
      env: config.env,
      volumeMounts: mounts,
      ports: containerPorts(container).map((p) => p.port),
      limits: containerLimits(container),
      ...(container.stdin === true ? { stdin: true } : {}),
      ...(container.stdinOnce === true ? { stdinOnce: true } : {}),
      ...(container.tty === true ? { tty: true } : {}),
      attempt: c.restartCount + (c.everStarted ? 1 : 0),
      ...(context.podIP !== null ? { podIP: context.podIP } : {}),
      ...(deps.resolvConf ? { resolvConf: deps.resolvConf(pod) } : {}),
      ...(specOf(pod).shareProcessNamespace === true ? { shareProcessNamespace: true } : {}),
    };
    try {
      const adopted = (await deps.runtime.adoptContainer?.(spec)) ?? null;
      if (adopted !== null) {
        results.push({ name: c.name, handle: adopted.handle, adoptedAttempt: adopted.attempt });
        continue;
      }
      events.pulling(c.name, c.image);
      const pullStartMs = deps.clock.nowMs();
      const handle = await deps.runtime.startContainer(spec);
      events.pulled(c.name, c.image, deps.clock.nowMs() - pullStartMs);
      events.created(c.name);
      events.started(c.name);
      results.push({ name: c.name, handle });
    } catch (error) {
      const pull = error instanceof ImagePullError;
      if (pull) events.pullFailed(c.name, c.image, (error as Error).message);
      else events.failed(c.name, (error as Error).message);
      results.push({
        name: c.name,
        reason: pull ? "ErrImagePull" : "RunContainerError",
        message: (error as Error).message,
      });
    }
  }
  return results;
});

const stopContainers = fromPromise<
  { name: string; handleId: string; exit: ContainerExit }[],
  { deps: PodLifecycleDeps; handles: ContainerHandle[]; gracePeriodMs: number }
>(({ input }) =>
  Promise.all(
    input.handles.map(async (handle) => ({
      name: handle.containerName,
      handleId: handle.id,
      exit: await input.deps.runtime.stopContainer(handle, input.gracePeriodMs),
    })),
  ),
);

function subscribeExits(
  runtime: ContainerRuntime,
  self: { send(event: PodLifecycleEvent): void },
  results: StartResult[],
): void {
  for (const r of results) {
    if (!("handle" in r)) continue;
    const handle = r.handle;
    runtime.onExit(handle, (exit) =>
      self.send({ type: "container.exited", container: r.name, handleId: handle.id, exit }),
    );
  }
}

/** Applies one container exit to its record (stale exits of an older handle are ignored). */
function withExit(
  context: PodContext,
  name: string,
  handleId: string,
  exit: ContainerExit,
): PodContext["containers"] {
  return context.containers.map((c) => {
    if (c.name !== name || c.handle?.id !== handleId) return c;
    const ranMs = exit.finishedAtMs - c.handle.startedAtMs;
    const signal = exit.signal ? { signal: exit.exitCode - 128 } : {};
    const reason = exit.statusUnknown
      ? "ContainerStatusUnknown"
      : exit.oomKilled
        ? "OOMKilled"
        : exit.exitCode === 0
          ? "Completed"
          : "Error";
    const message = exit.statusUnknown
      ? {
          message:
            "The container was re-adopted after a kubelet restart; its exit status could not be read",
        }
      : {};
    return {
      ...c,
      handle: null,
      ready: false,
      started: false,
      killedByProbe: false,
      backoffSteps: ranMs > context.deps.limits.crashLoopBackoffResetMs ? 0 : c.backoffSteps,
      done: context.deleting || !restartPolicyAllows(context.pod, exit.exitCode),
      state: {
        terminated: {
          exitCode: exit.exitCode,
          reason,
          ...message,
          ...signal,
          startedAt: rfc3339(c.handle.startedAtMs),
          finishedAt: rfc3339(exit.finishedAtMs),
        },
      },
    };
  });
}

function reportStatus(context: PodContext): void {
  context.deps.report(
    podStatus(
      {
        containers: context.containers,
        hostIP: context.deps.hostIP,
        podIP: context.podIP,
        startTimeMs: context.startTimeMs,
        initialized: context.initialized,
        message: context.deadlineExceeded ? DEADLINE_EXCEEDED_MESSAGE : context.message,
        reason: context.deadlineExceeded ? DEADLINE_EXCEEDED_REASON : null,
        phase: context.deadlineExceeded ? "Failed" : null,
      },
      context.deps.clock.wallMs(),
    ),
  );
}

export const podLifecycleMachine = setup({
  types: {
    context: {} as PodContext,
    input: {} as PodLifecycleInput,
    events: {} as PodLifecycleEvent,
  },
  actors: {
    preparePod,
    startContainers,
    stopContainers,
    prober: proberLogic,
    activeDeadline: activeDeadlineTimer,
  },
  delays: {
    crashLoopBackoff: ({ context }) => {
      const waiting = context.containers.filter((c) => !c.done && c.handle === null);
      const steps = Math.max(0, ...waiting.map((c) => c.backoffSteps));
      return crashLoopBackoffMs(steps, context.deps.limits);
    },
    prepareRetry: ({ context }) => context.deps.limits.crashLoopBackoffInitialMs,
  },
  guards: {
    isDeleting: ({ context }) => context.deleting,
    isActive: ({ context }) => !context.deleting && !context.deadlineExceeded,
    isPastActiveDeadline: ({ context }) => {
      const deadline = activeDeadlineMs(context.pod, context.activeSinceMs);
      return deadline !== null && context.deps.clock.wallMs() >= deadline;
    },
    podFinished: ({ context }) =>
      context.containers.length > 0 && context.containers.every((c) => c.done && !c.handle),
    needsStart: ({ context }) =>
      !context.deleting && context.containers.some((c) => !c.done && c.handle === null),
  },
  actions: {
    reportStatus: ({ context }) => reportStatus(context),
    /**
     * A pod that already has container statuses (a kubelet restart) is not reported Pending
     * again while it prepares: its containers may be running still, to be re-adopted.
     */
    reportNewPod: ({ context }) => {
      const reported = asObject(context.pod.status).containerStatuses;
      if (!Array.isArray(reported) || reported.length === 0) reportStatus(context);
    },
    updateSpec: assign(({ event }) => (event.type === "pod.updated" ? { pod: event.pod } : {})),
    markDeadlineExceeded: assign(({ context }) => ({
      deadlineExceeded: true,
      containers: context.containers.map((c) => ({ ...c, done: true })),
    })),
    markDeleting: assign(({ context, event }) => ({
      deleting: true,
      gracePeriodMs:
        event.type === "pod.deleted" && event.gracePeriodMs !== undefined
          ? Math.min(event.gracePeriodMs, context.gracePeriodMs ?? event.gracePeriodMs)
          : context.gracePeriodMs,
      containers: context.containers.map((c) => ({ ...c, done: true })),
    })),
    assignPrepared: assign((_, prepared: PreparedPod) => ({
      podIP: prepared.podIP,
      volumes: prepared.volumes,
      initialized: true,
      message: null,
    })),
    recordPrepareFailure: assign((_, message: string) => ({ message })),
    /** A volume could not be set up (Kubernetes' FailedMount). */
    recordMountFailure: ({ context }, message: string) => eventsOf(context).failedMount(message),
    /** Why each waiting container waits: a crash loop or an image that would not pull. */
    recordBackoffEvents: ({ context }) => {
      const events = eventsOf(context);
      for (const c of context.containers) {
        if (c.done || c.handle !== null || !("waiting" in c.state)) continue;
        if (c.state.waiting.reason === "CrashLoopBackOff") events.crashLoopBackOff(c.name);
        if (c.state.waiting.reason === "ImagePullBackOff") events.pullBackOff(c.name, c.image);
      }
    },
    recordStopping: ({ context }) => {
      const events = eventsOf(context);
      for (const c of context.containers) if (c.handle !== null) events.killing(c.name);
    },
    recordStarts: assign(({ context }, results: StartResult[]) => {
      const byName = new Map(results.map((r) => [r.name, r]));
      const containers = context.containers.map((c) => {
        const r = byName.get(c.name);
        if (!r) return c;
        if (!("handle" in r)) {
          return { ...c, state: { waiting: { reason: r.reason, message: r.message } } };
        }
        const spec = containerSpecNamed(context.pod, c.name);
        const started = !spec.startupProbe;
        return {
          ...c,
          handle: r.handle,
          restartCount: r.adoptedAttempt ?? c.restartCount + (c.everStarted ? 1 : 0),
          everStarted: true,
          started,
          ready: started && !spec.readinessProbe,
          killedByProbe: false,
          state: { running: { startedAt: rfc3339(r.handle.startedAtMs) } },
        };
      });
      return { containers, startTimeMs: context.startTimeMs ?? context.deps.clock.wallMs() };
    }),
    watchExits: ({ context, self }, results: StartResult[]) => {
      // subscribed after this macrostep: an exit already seen is delivered as a new event
      queueMicrotask(() => subscribeExits(context.deps.runtime, self, results));
    },
    recordExit: assign(({ context, event }) =>
      event.type === "container.exited"
        ? { containers: withExit(context, event.container, event.handleId, event.exit) }
        : {},
    ),
    recordStops: assign(
      ({ context }, exits: { name: string; handleId: string; exit: ContainerExit }[]) => {
        let next = context;
        for (const e of exits)
          next = { ...next, containers: withExit(next, e.name, e.handleId, e.exit) };
        return { containers: next.containers };
      },
    ),
    /** Kubernetes shows a container waiting to restart as waiting, its last run as lastState. */
    enterBackoff: assign(({ context }) => ({
      containers: context.containers.map((c) => {
        if (c.done || c.handle !== null) return c;
        if ("terminated" in c.state)
          return { ...c, lastState: c.state, state: { waiting: { reason: "CrashLoopBackOff" } } };
        if ("waiting" in c.state && c.state.waiting.reason === "ErrImagePull")
          return {
            ...c,
            state: {
              waiting: { reason: "ImagePullBackOff", message: c.state.waiting.message ?? "" },
            },
          };
        if ("waiting" in c.state && c.state.waiting.reason === "RunContainerError")
          return { ...c, state: { waiting: { reason: "CrashLoopBackOff" } } };
        return c;
      }),
    })),
    countBackoff: assign(({ context }) => ({
      containers: context.containers.map((c) =>
        !c.done && c.handle === null ? { ...c, backoffSteps: c.backoffSteps + 1 } : c,
      ),
    })),
    killForProbe: assign(({ context, event }) => {
      if (event.type !== "probe.liveness.failed" && event.type !== "probe.startup.failed")
        return {};
      const c = context.containers.find((x) => x.name === event.container);
      if (c?.handle && !c.killedByProbe) {
        const probe = event.type === "probe.liveness.failed" ? "liveness" : "startup";
        eventsOf(context).killing(c.name, `failed ${probe} probe, will be restarted`);
        void context.deps.runtime.stopContainer(c.handle, gracePeriodMsOf(context));
      }
      return {
        containers: context.containers.map((x) =>
          x.name === event.container ? { ...x, killedByProbe: true, ready: false } : x,
        ),
      };
    }),
    markStarted: assign(({ context, event }) => ({
      containers: context.containers.map((c) =>
        event.type === "probe.startup.succeeded" && c.name === event.container && c.handle
          ? { ...c, started: true, ready: !containerSpecNamed(context.pod, c.name).readinessProbe }
          : c,
      ),
    })),
    markReadiness: assign(({ context, event }) => ({
      containers: context.containers.map((c) =>
        event.type === "probe.readiness.changed" && c.name === event.container && c.handle
          ? { ...c, ready: event.ready && c.started }
          : c,
      ),
    })),
  },
}).createMachine({
  id: "pod",
  context: ({ input }) => ({
    pod: input.pod,
    deps: input.deps,
    podIP: null,
    volumes: {},
    containers: containerSpecs(input.pod).map((c) => ({
      name: String(c.name),
      image: String(c.image ?? ""),
      handle: null,
      backoffSteps: 0,
      ready: false,
      started: false,
      killedByProbe: false,
      ...reportedHistory(input.pod, String(c.name)),
    })),
    startTimeMs: reportedStartTimeMs(input.pod),
    initialized: false,
    deleting: false,
    gracePeriodMs: null,
    message: null,
    activeSinceMs: reportedStartTimeMs(input.pod) ?? input.deps.clock.wallMs(),
    deadlineExceeded: false,
  }),
  initial: "pending",
  invoke: {
    src: "activeDeadline",
    input: ({ context }) => ({
      pod: context.pod,
      clock: context.deps.clock,
      activeSinceMs: context.activeSinceMs,
    }),
  },
  on: {
    "pod.deadlineExceeded": {
      guard: "isActive",
      target: ".terminating",
      actions: "markDeadlineExceeded",
    },
    "pod.updated": { actions: "updateSpec" },
    "pod.deleted": { target: ".terminating", actions: "markDeleting" },
    "container.exited": { actions: ["recordExit", "reportStatus"] },
  },
  states: {
    pending: {
      entry: "reportNewPod",
      initial: "preparing",
      states: {
        preparing: {
          invoke: {
            src: "preparePod",
            input: ({ context }) => ({ deps: context.deps, pod: context.pod }),
            onDone: {
              target: "#pod.starting",
              actions: { type: "assignPrepared", params: ({ event }) => event.output },
            },
            onError: {
              target: "retrying",
              actions: [
                { type: "recordPrepareFailure", params: ({ event }) => String(event.error) },
                {
                  type: "recordMountFailure",
                  params: ({ event }) => (event.error as Error)?.message ?? String(event.error),
                },
                "reportStatus",
              ],
            },
          },
        },
        retrying: { after: { prepareRetry: "preparing" } },
      },
    },
    starting: {
      // a start in flight finishes first, so that what it started is then stopped
      on: { "pod.deleted": { actions: "markDeleting" }, "pod.deadlineExceeded": {} },
      invoke: {
        src: "startContainers",
        input: ({ context }) => ({ context }),
        onDone: [
          {
            guard: "isPastActiveDeadline",
            target: "terminating",
            actions: [
              { type: "recordStarts", params: ({ event }) => event.output },
              { type: "watchExits", params: ({ event }) => event.output },
              "markDeadlineExceeded",
            ],
          },
          {
            guard: "isDeleting",
            target: "terminating",
            actions: [
              { type: "recordStarts", params: ({ event }) => event.output },
              { type: "watchExits", params: ({ event }) => event.output },
            ],
          },
          {
            target: "running",
            actions: [
              { type: "recordStarts", params: ({ event }) => event.output },
              { type: "watchExits", params: ({ event }) => event.output },
            ],
          },
        ],
      },
    },
    running: {
      entry: "reportStatus",
      always: [
        { guard: "podFinished", target: "terminated" },
        { guard: "needsStart", target: "backoff" },
      ],
      invoke: {
        src: "prober",
        input: ({ context }) => ({
          containers: context.containers
            .filter((c) => c.handle !== null)
            .map((c): ProbedContainer => {
              const spec = containerSpecNamed(context.pod, c.name);
              return {
                name: c.name,
                target: {
                  handle: c.handle!,
                  podIP: context.podIP ?? "",
                  namedPorts: Object.fromEntries(
                    containerPorts(spec)
                      .filter((p) => p.name)
                      .map((p) => [p.name, p.port]),
                  ),
                },
                startupProbe: (spec.startupProbe as JsonObject) ?? null,
                livenessProbe: (spec.livenessProbe as JsonObject) ?? null,
                readinessProbe: (spec.readinessProbe as JsonObject) ?? null,
                started: c.started,
              };
            }),
          runner: context.deps.probes,
          clock: context.deps.clock,
          onProbeFailed: (
            container: string,
            kind: "Liveness" | "Readiness" | "Startup",
            probe: JsonObject,
          ) =>
            eventsOf(context).unhealthy(
              container,
              kind,
              probeFailureDetail(probe, context.podIP ?? ""),
            ),
          defaultProbeTimeoutMs: context.deps.limits.defaultProbeTimeoutMs,
        }),
      },
      on: {
        "probe.liveness.failed": { actions: ["killForProbe", "reportStatus"] },
        "probe.startup.failed": { actions: ["killForProbe", "reportStatus"] },
        "probe.startup.succeeded": { actions: ["markStarted", "reportStatus"] },
        "probe.readiness.changed": { actions: ["markReadiness", "reportStatus"] },
      },
    },
    backoff: {
      entry: ["enterBackoff", "recordBackoffEvents", "reportStatus"],
      always: { guard: "podFinished", target: "terminated" },
      after: { crashLoopBackoff: { target: "starting", actions: "countBackoff" } },
    },
    terminating: {
      entry: ["recordStopping", "reportStatus"],
      on: { "pod.deleted": { actions: "markDeleting" } },
      invoke: {
        src: "stopContainers",
        input: ({ context }) => ({
          deps: context.deps,
          handles: context.containers.flatMap((c) => (c.handle ? [c.handle] : [])),
          gracePeriodMs: gracePeriodMsOf(context),
        }),
        onDone: {
          target: "terminated",
          actions: { type: "recordStops", params: ({ event }) => event.output },
        },
      },
    },
    terminated: {
      entry: "reportStatus",
      always: { guard: "isDeleting", target: "removed" },
      on: {
        "pod.deleted": { target: "removed", actions: "markDeleting" },
        "pod.deadlineExceeded": {}, // a pod that finished has no deadline left to miss
      },
    },
    removed: { type: "final" },
  },
});

/**
 * What the pod's reported status says a container went through before this statechart (a
 * kubelet restart): its restartCount, lastState, whether it ever ran, and — for a container
 * that finished and will not restart — that it is done, so that it is not run again.
 */
function reportedHistory(
  pod: JsonObject,
  name: string,
): Pick<
  PodContext["containers"][number],
  "restartCount" | "lastState" | "everStarted" | "state" | "done"
> {
  const fresh = {
    restartCount: 0,
    lastState: null,
    everStarted: false,
    state: { waiting: { reason: "ContainerCreating" } },
    done: false,
  };
  const statuses = (asObject(pod.status).containerStatuses ?? []) as JsonObject[];
  const reported = statuses.find((s) => s.name === name);
  if (reported === undefined) return fresh;
  const restartCount =
    typeof reported.restartCount === "number" && reported.restartCount >= 0
      ? reported.restartCount
      : 0;
  const state = asObject(reported.state);
  const last = asObject(reported.lastState);
  const terminated = asObject(state.terminated);
  const finished =
    typeof terminated.exitCode === "number" && !restartPolicyAllows(pod, terminated.exitCode);
  return {
    restartCount,
    lastState: last.terminated ? (last as unknown as ContainerState) : null,
    everStarted:
      restartCount > 0 ||
      state.running !== undefined ||
      state.terminated !== undefined ||
      last.terminated !== undefined,
    state: finished ? (state as unknown as ContainerState) : fresh.state,
    done: finished,
  };
}

/** The pod's reported startTime (kept across a kubelet restart), if any. */
function reportedStartTimeMs(pod: JsonObject): number | null {
  const startTime = asObject(pod.status).startTime;
  const ms = typeof startTime === "string" ? Date.parse(startTime) : Number.NaN;
  return Number.isFinite(ms) ? ms : null;
}

export function podUidOf(pod: JsonObject): string {
  return String(metaOf(pod).uid ?? "");
}
