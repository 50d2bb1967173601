/**
 * The process runtime: each container is a supervised OS process in its own process group
 * (`spawn(…, {detached: true})`), so that a signal reaches everything it started.
 *
 *   rootDir/pods/<uid>/<container>/                 working directory (cwd, HOME)
 *   rootDir/pods/<uid>/logs/<container>/<n>.log     stdout + stderr of attempt n (appended)
 *   rootDir/pods/<uid>/pids/<container>.pid         {pid, procStart} while it runs
 *   rootDir/pods/<uid>/volumes/<volume>/            see volumes.ts
 *
 * When a container's main process exits, the rest of its group is killed (a container's
 * processes die with it, as in a pid namespace). Stopping sends SIGTERM to the group, then
 * SIGKILL when the grace period (on the injected clock) runs out. Pid files let a restarted
 * kubelet find and kill what its predecessor left (`cleanupOrphans`); `procStart` (the
 * process's start time in /proc) guards against a recycled pid.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { mkdir, open, readdir, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import type { Clock } from "../system/clock.ts";
import { containerArgv, resolveImage } from "./image-catalog.ts";
import { DEFAULT_KUBELET_LIMITS, type KubeletLimits } from "./limits.ts";
import {
  type ContainerExit,
  type ContainerHandle,
  type ContainerRuntime,
  type ContainerRuntimeStatus,
  type ContainerSpec,
  ContainerStartError,
  ImagePullError,
} from "./runtime.ts";
import { linkMounts, volumeEnvName } from "./volumes.ts";

interface RunningContainer {
  handle: ContainerHandle;
  child: ChildProcess;
  env: Record<string, string>;
  cwd: string;
  exit: ContainerExit | null;
  listeners: Set<(exit: ContainerExit) => void>;
  pidFile: string;
}

export interface ProcessRuntimeOptions {
  rootDir: string;
  clock: Clock;
  logger: Logger;
  limits?: Partial<Pick<KubeletLimits, "logFilesPerContainer" | "maxLogReadBytes">>;
}

let containerCounter = 0;

export class ProcessRuntime implements ContainerRuntime {
  private readonly containers = new Map<string, RunningContainer>();
  private readonly limits: Pick<KubeletLimits, "logFilesPerContainer" | "maxLogReadBytes">;

  constructor(private readonly options: ProcessRuntimeOptions) {
    this.limits = {
      logFilesPerContainer: DEFAULT_KUBELET_LIMITS.logFilesPerContainer,
      maxLogReadBytes: DEFAULT_KUBELET_LIMITS.maxLogReadBytes,
      ...options.limits,
    };
  }

  podDir(podUid: string): string {
    if (!/^[A-Za-z0-9-]+$/.test(podUid)) throw new Error(`bad pod uid ${podUid}`);
    return join(this.options.rootDir, "pods", podUid);
  }

  private logDir(podUid: string, containerName: string): string {
    return join(this.podDir(podUid), "logs", containerName);
  }

  async startContainer(spec: ContainerSpec): Promise<ContainerHandle> {
    const program = resolveImage(spec.image);
    if (!program) throw new ImagePullError(spec.image);
    const podDir = this.podDir(spec.podUid);
    const cwd = join(podDir, spec.containerName);
    const logDir = this.logDir(spec.podUid, spec.containerName);
    await mkdir(cwd, { recursive: true });
    await mkdir(logDir, { recursive: true });
    await mkdir(join(podDir, "pids"), { recursive: true });
    await linkMounts(cwd, spec.volumeMounts);
    await this.pruneLogs(logDir);

    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
      HOME: cwd,
      HOSTNAME: spec.podName,
      ...(spec.ports[0] !== undefined ? { BOSUN_CONTAINER_PORT: String(spec.ports[0]) } : {}),
      ...spec.env,
    };
    for (const mount of spec.volumeMounts) env[volumeEnvName(mount.name)] = mount.hostPath;

    const argv = containerArgv(program, spec.command, spec.args);
    const logFd = openSync(join(logDir, `${spec.attempt}.log`), "a");
    let child: ChildProcess;
    try {
      child = spawn(argv[0]!, argv.slice(1), {
        cwd,
        env,
        detached: true,
        stdio: ["ignore", logFd, logFd],
      });
      await new Promise<void>((resolve, reject) => {
        child.once("spawn", resolve);
        child.once("error", reject);
      });
    } catch (error) {
      throw new ContainerStartError(
        `failed to start ${argv[0]}: ${(error as Error).message ?? String(error)}`,
      );
    } finally {
      closeSync(logFd);
    }
    const pid = child.pid!;
    const handle: ContainerHandle = {
      id: `${spec.podUid}/${spec.containerName}/${++containerCounter}`,
      podUid: spec.podUid,
      containerName: spec.containerName,
      pid,
      startedAtMs: this.options.clock.wallMs(),
    };
    const pidFile = join(podDir, "pids", `${spec.containerName}.pid`);
    const running: RunningContainer = {
      handle,
      child,
      env,
      cwd,
      exit: null,
      listeners: new Set(),
      pidFile,
    };
    this.containers.set(handle.id, running);
    child.once("exit", (code, signal) => this.exited(running, code, signal));
    await writeFile(pidFile, JSON.stringify({ pid, procStart: procStartOf(pid) }));
    this.options.logger.debug({ container: handle.id, pid, argv }, "container started");
    return handle;
  }

  private exited(running: RunningContainer, code: number | null, signal: string | null): void {
    // the container's other processes die with its main process
    killGroup(running.handle.pid, "SIGKILL");
    running.exit = {
      exitCode: code ?? (signal ? 128 + signalNumber(signal) : 1),
      signal,
      finishedAtMs: this.options.clock.wallMs(),
    };
    unlink(running.pidFile).catch(() => {});
    const exit = running.exit;
    for (const listener of [...running.listeners]) listener(exit);
    running.listeners.clear();
  }

  onExit(handle: ContainerHandle, listener: (exit: ContainerExit) => void): () => void {
    const running = this.containers.get(handle.id);
    if (!running) {
      listener({ exitCode: 137, signal: "SIGKILL", finishedAtMs: this.options.clock.wallMs() });
      return () => {};
    }
    if (running.exit) {
      listener(running.exit);
      return () => {};
    }
    running.listeners.add(listener);
    return () => running.listeners.delete(listener);
  }

  stopContainer(handle: ContainerHandle, gracePeriodMs: number): Promise<ContainerExit> {
    const running = this.containers.get(handle.id);
    if (!running) return Promise.resolve(this.forgottenExit());
    if (running.exit) return Promise.resolve(running.exit);
    return new Promise((resolve) => {
      const clock = this.options.clock;
      const timer =
        gracePeriodMs > 0
          ? clock.setTimeout(() => killGroup(handle.pid, "SIGKILL"), gracePeriodMs)
          : null;
      this.onExit(handle, (exit) => {
        if (timer !== null) clock.clearTimeout(timer);
        resolve(exit);
      });
      killGroup(handle.pid, gracePeriodMs > 0 ? "SIGTERM" : "SIGKILL");
    });
  }

  private forgottenExit(): ContainerExit {
    return { exitCode: 137, signal: "SIGKILL", finishedAtMs: this.options.clock.wallMs() };
  }

  status(handle: ContainerHandle): ContainerRuntimeStatus {
    const running = this.containers.get(handle.id);
    if (!running)
      return { state: "exited", startedAtMs: handle.startedAtMs, ...this.forgottenExit() };
    if (running.exit) return { state: "exited", startedAtMs: handle.startedAtMs, ...running.exit };
    return { state: "running", startedAtMs: handle.startedAtMs };
  }

  async logs(
    podUid: string,
    containerName: string,
    options: { previous?: boolean; sinceByte?: number },
  ): Promise<{ text: string; nextByte: number }> {
    const files = await logFiles(this.logDir(podUid, containerName));
    const file = options.previous ? files.at(-2) : files.at(-1);
    if (file === undefined) {
      throw new Error(
        options.previous
          ? `previous terminated container "${containerName}" not found`
          : `container "${containerName}" has no logs`,
      );
    }
    const handle = await open(join(this.logDir(podUid, containerName), file), "r");
    try {
      const size = (await handle.stat()).size;
      let start = Math.min(options.sinceByte ?? 0, size);
      if (size - start > this.limits.maxLogReadBytes) start = size - this.limits.maxLogReadBytes;
      const buffer = Buffer.alloc(size - start);
      await handle.read(buffer, 0, buffer.length, start);
      return { text: buffer.toString("utf8"), nextByte: size };
    } finally {
      await handle.close();
    }
  }

  exec(handle: ContainerHandle, command: string[], timeoutMs: number): Promise<number> {
    const running = this.containers.get(handle.id);
    if (!running || running.exit || command.length === 0) return Promise.resolve(1);
    return new Promise((resolve) => {
      const child = spawn(command[0]!, command.slice(1), {
        cwd: running.cwd,
        env: running.env,
        detached: true,
        stdio: "ignore",
      });
      const clock = this.options.clock;
      const timer = clock.setTimeout(() => killGroup(child.pid ?? 0, "SIGKILL"), timeoutMs);
      child.once("error", () => {
        clock.clearTimeout(timer);
        resolve(127);
      });
      child.once("exit", (code) => {
        clock.clearTimeout(timer);
        resolve(code ?? 1);
      });
    });
  }

  async removePod(podUid: string): Promise<void> {
    for (const [id, running] of this.containers) {
      if (running.handle.podUid !== podUid) continue;
      if (!running.exit) await this.stopContainer(running.handle, 0);
      this.containers.delete(id);
    }
    await rm(this.podDir(podUid), { recursive: true, force: true });
  }

  /** Containers still running (for shutdown and tests). */
  runningHandles(): ContainerHandle[] {
    return [...this.containers.values()].filter((c) => !c.exit).map((c) => c.handle);
  }

  /**
   * Kills every process group a previous kubelet left behind (pid files whose process still
   * runs with the same start time); the pods' statecharts then start their containers afresh.
   * Returns the pids killed.
   */
  async cleanupOrphans(): Promise<number[]> {
    const killed: number[] = [];
    const podsDir = join(this.options.rootDir, "pods");
    const uids = await readdir(podsDir).catch(() => [] as string[]);
    for (const uid of uids) {
      const pidsDir = join(podsDir, uid, "pids");
      for (const file of await readdir(pidsDir).catch(() => [] as string[])) {
        try {
          const { pid, procStart } = JSON.parse(await readFile(join(pidsDir, file), "utf8"));
          if (typeof pid === "number" && procStartOf(pid) === procStart && procStart !== null) {
            killGroup(pid, "SIGKILL");
            killed.push(pid);
          }
        } catch {
          // a torn pid file: nothing to kill
        }
        await unlink(join(pidsDir, file)).catch(() => {});
      }
    }
    return killed;
  }

  private async pruneLogs(logDir: string): Promise<void> {
    const files = await logFiles(logDir);
    // the new attempt's file is about to be added: keep one fewer
    for (const file of files.slice(
      0,
      Math.max(0, files.length - this.limits.logFilesPerContainer + 1),
    ))
      await unlink(join(logDir, file)).catch(() => {});
  }
}

/** `<n>.log` files, oldest attempt first. */
async function logFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .filter((n) => /^\d+\.log$/.test(n))
    .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
}

/** Signals a whole process group; a group already gone is not an error. */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  if (pid <= 0) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: already gone
  }
}

/** Whether any process of the group led by `pid` is alive. */
export function isGroupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks), or null. */
function procStartOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
function signalNumber(signal: string): number {
  return SIGNALS[signal] ?? 0;
}
