/**
 * The container runtime interface: the CRI's role, small. The kubelet's pod statechart drives
 * containers only through this; the process runtime runs them as OS processes, and a test
 * runtime (or the hollow runtime for scale tests) fakes them.
 */

/** One container to start: resolved from the pod spec by the kubelet. */
export interface ContainerSpec {
  podUid: string;
  podName: string;
  podNamespace: string;
  containerName: string;
  image: string;
  command: string[];
  args: string[];
  env: Record<string, string>;
  /** Volume name → directory on the host holding its files (see volumes.ts). */
  volumeMounts: {
    name: string;
    mountPath: string;
    hostPath: string;
    readOnly: boolean;
    /** A path inside the volume mounted instead of its root. */
    subPath?: string;
  }[];
  /** The container's own stdin and terminal (`kubectl run -it`, `kubectl attach`). */
  stdin?: boolean;
  stdinOnce?: boolean;
  tty?: boolean;
  /** limits.memory and limits.cpu, enforced through cgroups where the runtime can. */
  limits?: { memoryLimitBytes?: number; cpuLimitMilli?: number };
  /** containerPorts, for images that serve on "the first containerPort". */
  ports: number[];
  /** Which attempt this is (the container's restartCount): names its log file. */
  attempt: number;
  /**
   * The pod's IP (what the CRI's pod sandbox holds): kept with the container so that a restarted
   * kubelet that re-adopts it keeps the address the container listens on.
   */
  podIP?: string;
  /**
   * The pod's resolv.conf (per its dnsPolicy): the runtime writes it into the pod's directory and
   * names it in `BOSUN_RESOLV_CONF` (a mount namespace may bind it over /etc/resolv.conf).
   */
  resolvConf?: string;
  /**
   * The pod's `shareProcessNamespace`: its containers share one pid namespace (whose PID 1 is
   * the pod's pause process), so they see and signal each other's processes.
   */
  shareProcessNamespace?: boolean;
}

/** What the runtime hands back: opaque to the kubelet except for printing and pid files. */
export interface ContainerHandle {
  id: string;
  podUid: string;
  containerName: string;
  pid: number;
  startedAtMs: number;
}

export interface ContainerExit {
  exitCode: number;
  /** The signal that ended it, if any (e.g. "SIGKILL"). */
  signal: string | null;
  finishedAtMs: number;
  /**
   * How it ended is not known: a re-adopted container is no longer the runtime's child, so its
   * exit status cannot be read. Reported as Kubernetes reports a container it lost track of:
   * terminated, exit code 137, reason ContainerStatusUnknown.
   */
  statusUnknown?: boolean;
  /** The kernel's OOM killer ended it (its cgroup's memory limit): Kubernetes' OOMKilled. */
  oomKilled?: boolean;
}

/** A container a previous kubelet started that still runs (found at start, before adoption). */
export interface RecoveredContainer {
  podUid: string;
  containerName: string;
  pid: number;
  podIP: string | null;
}

/** What a restarted kubelet's runtime found on disk. */
export interface RecoveredPods {
  /** Containers still running that passed the identity check. */
  containers: RecoveredContainer[];
  /** Every pod the runtime keeps files for (running containers or not). */
  podUids: string[];
}

export type ContainerRuntimeStatus =
  | { state: "running"; startedAtMs: number }
  | ({ state: "exited"; startedAtMs: number } & ContainerExit);

/** Thrown by startContainer when the image is not in the catalog (Kubernetes' ErrImagePull). */
export class ImagePullError extends Error {
  constructor(readonly image: string) {
    super(`image "${image}" not found in the local image catalog`);
    this.name = "ImagePullError";
  }
}

/** Thrown by startContainer when the program could not be started (Kubernetes' RunContainerError). */
export class ContainerStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ContainerStartError";
  }
}

/** A command running in a container with its stdio as streams (`kubectl exec`). */
export interface ExecProcess {
  stdin: NodeJS.WritableStream;
  stdout: NodeJS.ReadableStream;
  /** Null with a TTY: the terminal merges stderr into stdout. */
  stderr: NodeJS.ReadableStream | null;
  /** The terminal's size (TTY only). */
  resize(width: number, height: number): void;
  /** Ends it (SIGKILL to its process group). */
  kill(): void;
  /** Its exit code (128 + n for signal n) once it has exited and its output is drained. */
  exited: Promise<number>;
}

export interface ContainerRuntime {
  /**
   * Whether containers see their volumes at `mountPath` (a mount namespace per container);
   * without it they find them through the cwd links and BOSUN_VOLUME_* (volumes.ts).
   */
  readonly honoursMountPaths?: boolean;
  /** Starts the container; rejects with ImagePullError or ContainerStartError. */
  startContainer(spec: ContainerSpec): Promise<ContainerHandle>;
  /**
   * Stops it: SIGTERM to its process group, SIGKILL after `gracePeriodMs` if still alive.
   * Resolves once it has exited (at once if it already had).
   */
  stopContainer(handle: ContainerHandle, gracePeriodMs: number): Promise<ContainerExit>;
  /** Calls `listener` once when the container exits (at once if it already has). */
  onExit(handle: ContainerHandle, listener: (exit: ContainerExit) => void): () => void;
  status(handle: ContainerHandle): ContainerRuntimeStatus;
  /**
   * The container's log (stdout and stderr interleaved): attempt `attempt`, else the latest one
   * (`previous`: the one before). From `sinceByte` on, forward; without it, the end of the log.
   * `sizeBytes`: the log's whole size then (a read may stop short of it).
   */
  logs(
    podUid: string,
    containerName: string,
    options: { previous?: boolean; sinceByte?: number; attempt?: number },
  ): Promise<{ text: string; nextByte: number; sizeBytes?: number }>;
  /** Runs `command` in the container's environment (an exec probe); exit code 0 = success. */
  exec(handle: ContainerHandle, command: string[], timeoutMs: number): Promise<number>;
  /**
   * Runs `command` in the running container with piped stdio (a pty with `tty`); throws when
   * the container does not run. Optional: runtimes without processes have no exec.
   */
  execStream?(handle: ContainerHandle, command: string[], options: { tty: boolean }): ExecProcess;
  /**
   * Attaches to the running container (`kubectl attach`): its output from now on, its stdin
   * and terminal when it has them; `exited` once the container has exited and its output is
   * read. `kill` detaches (closing a `stdinOnce` stdin). Optional, as execStream.
   */
  attachStream?(handle: ContainerHandle): ExecProcess;
  /**
   * The container's cumulative CPU time (ns) and memory in use (bytes), or null when it does
   * not run. Optional: the Summary API reports only what a runtime can measure.
   */
  containerStats?(
    handle: ContainerHandle,
  ): { cpuUsageNanos: number; memoryUsageBytes: number } | null;
  /** Removes what the runtime kept for a pod (working dirs, logs), killing what still runs. */
  removePod(podUid: string): Promise<void>;
  /**
   * At kubelet start: the containers a previous kubelet left running (only those that are
   * provably the processes it started) and the pods it kept files for. Optional: a runtime
   * whose containers die with the kubelet has nothing to recover.
   */
  recoverContainers?(): Promise<RecoveredPods>;
  /**
   * Re-attaches to the recovered container `spec` describes instead of starting it: its handle
   * (same id and pid) and the attempt it is, or null when there is none to adopt (then the
   * caller starts it). One recovered container is adopted at most once.
   */
  adoptContainer?(
    spec: ContainerSpec,
  ): Promise<{ handle: ContainerHandle; attempt: number } | null>;
}
