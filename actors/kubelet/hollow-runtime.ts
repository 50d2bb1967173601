/**
 * The hollow runtime (DESIGN §7; Kubernetes' kubemark "hollow node" runtime): the container
 * runtime interface with no processes behind it, so that one process can stand in for hundreds
 * of nodes in a scale test. The control plane sees what it sees of a real node; nothing runs.
 *
 * - A container "starts" at once: any image pulls (a scale test's manifests name real images —
 *   nginx:1.25, app/foo — that no catalog holds), a fake id and pid are handed out, and it stays
 *   running until it is stopped. Stopping ends it at once, as if it obeyed SIGTERM at once
 *   (exit 0 with a grace period, 137/SIGKILL without one).
 * - Logs are two lines per attempt in memory (started, and stopped), current and previous;
 *   short enough that a read is always the whole attempt from `sinceByte`.
 * - exec succeeds (exit 0) while the container runs. httpGet and tcpSocket probes would dial a
 *   pod IP that nothing listens on, so a hollow kubelet takes `HollowProbeRunner`: every probe of
 *   a running container succeeds. Probed hollow pods therefore go Ready (after their probes'
 *   initial delays, on the prober's schedule), as healthy real pods would; the prober's timing
 *   is exercised, the network is not.
 */
import type { JsonObject } from "../api/json.ts";
import type { Clock } from "../system/clock.ts";
import type { ProbeRunner, ProbeTarget } from "./probe-runner.ts";
import type {
  ContainerExit,
  ContainerHandle,
  ContainerRuntime,
  ContainerRuntimeStatus,
  ContainerSpec,
} from "./runtime.ts";

/**
 * Fake pids start above Linux's largest possible pid (2^22), so a hollow pid can never name a
 * real process should anything signal it.
 */
export const HOLLOW_PID_BASE = 4_194_304;
/** Attempts whose logs are kept per container: the current one and `previous`, as on disk. */
const HOLLOW_LOG_ATTEMPTS_KEPT = 2;
/** Exit of a container stopped with a grace period: it "handled" SIGTERM and exited cleanly. */
const GRACEFUL_EXIT: Pick<ContainerExit, "exitCode" | "signal"> = { exitCode: 0, signal: null };
/** Exit of a container stopped without a grace period, or forgotten: SIGKILL, as 128 + 9. */
const KILLED_EXIT: Pick<ContainerExit, "exitCode" | "signal"> = {
  exitCode: 137,
  signal: "SIGKILL",
};

interface HollowContainer {
  handle: ContainerHandle;
  attempt: number;
  exit: ContainerExit | null;
  listeners: Set<(exit: ContainerExit) => void>;
}

/** One attempt's log text, keyed by attempt number. */
type AttemptLogs = Map<number, string>;

export interface HollowRuntimeOptions {
  clock: Clock;
  /** Written into each log line (e.g. the hollow node's name). */
  nodeName?: string;
}

export class HollowRuntime implements ContainerRuntime {
  private readonly containers = new Map<string, HollowContainer>();
  /** podUid → container name → attempt → text. */
  private readonly logsByPod = new Map<string, Map<string, AttemptLogs>>();
  private nextPid = HOLLOW_PID_BASE;
  private nextId = 0;

  constructor(private readonly options: HollowRuntimeOptions) {}

  startContainer(spec: ContainerSpec): Promise<ContainerHandle> {
    const handle: ContainerHandle = {
      id: `hollow/${spec.podUid}/${spec.containerName}/${++this.nextId}`,
      podUid: spec.podUid,
      containerName: spec.containerName,
      pid: this.nextPid++,
      startedAtMs: this.options.clock.wallMs(),
    };
    this.containers.set(handle.id, {
      handle,
      attempt: spec.attempt,
      exit: null,
      listeners: new Set(),
    });
    const where = this.options.nodeName ? ` on ${this.options.nodeName}` : "";
    this.appendLog(
      spec.podUid,
      spec.containerName,
      spec.attempt,
      `hollow container ${spec.containerName} of ${spec.podNamespace}/${spec.podName} started${where} (image ${spec.image}, attempt ${spec.attempt})\n`,
    );
    return Promise.resolve(handle);
  }

  stopContainer(handle: ContainerHandle, gracePeriodMs: number): Promise<ContainerExit> {
    const container = this.containers.get(handle.id);
    if (!container) return Promise.resolve(this.forgottenExit());
    if (container.exit) return Promise.resolve(container.exit);
    const exit: ContainerExit = {
      ...(gracePeriodMs > 0 ? GRACEFUL_EXIT : KILLED_EXIT),
      finishedAtMs: this.options.clock.wallMs(),
    };
    container.exit = exit;
    this.appendLog(
      handle.podUid,
      handle.containerName,
      container.attempt,
      `hollow container ${handle.containerName} stopped (exit ${exit.exitCode})\n`,
    );
    for (const listener of [...container.listeners]) listener(exit);
    container.listeners.clear();
    return Promise.resolve(exit);
  }

  onExit(handle: ContainerHandle, listener: (exit: ContainerExit) => void): () => void {
    const container = this.containers.get(handle.id);
    if (!container) {
      listener(this.forgottenExit());
      return () => {};
    }
    if (container.exit) {
      listener(container.exit);
      return () => {};
    }
    container.listeners.add(listener);
    return () => container.listeners.delete(listener);
  }

  status(handle: ContainerHandle): ContainerRuntimeStatus {
    const container = this.containers.get(handle.id);
    const exit = container ? container.exit : this.forgottenExit();
    return exit
      ? { state: "exited", startedAtMs: handle.startedAtMs, ...exit }
      : { state: "running", startedAtMs: handle.startedAtMs };
  }

  logs(
    podUid: string,
    containerName: string,
    options: { previous?: boolean; sinceByte?: number; attempt?: number },
  ): Promise<{ text: string; nextByte: number }> {
    const attempts = [...(this.logsByPod.get(podUid)?.get(containerName)?.entries() ?? [])].sort(
      ([a], [b]) => a - b,
    );
    const entry =
      options.attempt !== undefined
        ? attempts.find(([n]) => n === options.attempt)
        : options.previous
          ? attempts.at(-2)
          : attempts.at(-1);
    if (entry === undefined) {
      return Promise.reject(
        new Error(
          options.previous
            ? `previous terminated container "${containerName}" not found`
            : `container "${containerName}" has no logs`,
        ),
      );
    }
    // offsets are bytes, as with the process runtime's files, so followers can resume
    const bytes = Buffer.from(entry[1], "utf8");
    const start = Math.min(options.sinceByte ?? 0, bytes.length);
    return Promise.resolve({
      text: bytes.subarray(start).toString("utf8"),
      nextByte: bytes.length,
    });
  }

  exec(handle: ContainerHandle, command: string[], _timeoutMs: number): Promise<number> {
    const container = this.containers.get(handle.id);
    const running = container !== undefined && container.exit === null;
    return Promise.resolve(running && command.length > 0 ? 0 : 1);
  }

  async removePod(podUid: string): Promise<void> {
    for (const [id, container] of this.containers) {
      if (container.handle.podUid !== podUid) continue;
      if (!container.exit) await this.stopContainer(container.handle, 0);
      this.containers.delete(id);
    }
    this.logsByPod.delete(podUid);
  }

  /** Containers still "running" (for shutdown and tests). */
  runningHandles(): ContainerHandle[] {
    return [...this.containers.values()].filter((c) => !c.exit).map((c) => c.handle);
  }

  private forgottenExit(): ContainerExit {
    return { ...KILLED_EXIT, finishedAtMs: this.options.clock.wallMs() };
  }

  private appendLog(podUid: string, containerName: string, attempt: number, line: string): void {
    let byContainer = this.logsByPod.get(podUid);
    if (!byContainer) {
      byContainer = new Map();
      this.logsByPod.set(podUid, byContainer);
    }
    let attempts = byContainer.get(containerName);
    if (!attempts) {
      attempts = new Map();
      byContainer.set(containerName, attempts);
    }
    attempts.set(attempt, (attempts.get(attempt) ?? "") + line);
    const oldestFirst = [...attempts.keys()].sort((a, b) => a - b);
    for (const old of oldestFirst.slice(
      0,
      Math.max(0, oldestFirst.length - HOLLOW_LOG_ATTEMPTS_KEPT),
    ))
      attempts.delete(old);
  }
}

/**
 * Probes on a hollow node: every probe of a running container succeeds, whatever its kind
 * (see the file comment for why http and tcp are not dialled).
 */
export class HollowProbeRunner implements ProbeRunner {
  constructor(private readonly runtime: ContainerRuntime) {}

  run(_probe: JsonObject, target: ProbeTarget, _timeoutMs: number): Promise<boolean> {
    return Promise.resolve(this.runtime.status(target.handle).state === "running");
  }
}
