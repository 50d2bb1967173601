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
  volumeMounts: { name: string; mountPath: string; hostPath: string; readOnly: boolean }[];
  /** containerPorts, for images that serve on "the first containerPort". */
  ports: number[];
  /** Which attempt this is (the container's restartCount): names its log file. */
  attempt: number;
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

export interface ContainerRuntime {
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
  /** The container's log (stdout and stderr interleaved); `previous` = the attempt before. */
  logs(
    podUid: string,
    containerName: string,
    options: { previous?: boolean; sinceByte?: number },
  ): Promise<{ text: string; nextByte: number }>;
  /** Runs `command` in the container's environment (an exec probe); exit code 0 = success. */
  exec(handle: ContainerHandle, command: string[], timeoutMs: number): Promise<number>;
  /** Removes what the runtime kept for a pod (working dirs, logs). */
  removePod(podUid: string): Promise<void>;
}
