/**
 * The process runtime: each container is a supervised OS process in its own process group
 * (`spawn(…, {detached: true})`), so that a signal reaches everything it started.
 *
 *   rootDir/pods/<uid>/<container>/                 working directory (cwd, HOME)
 *   rootDir/pods/<uid>/logs/<container>/<n>.log     stdout + stderr of attempt n (appended)
 *   rootDir/pods/<uid>/pids/<container>.pid         a PidRecord while it runs
 *   rootDir/pods/<uid>/volumes/<volume>/            see volumes.ts
 *
 * When a container's main process exits, the rest of its group is killed (a container's
 * processes die with it, as in a pid namespace). Stopping sends SIGTERM to the group, then
 * SIGKILL when the grace period (on the injected clock) runs out.
 *
 * Containers outlive their kubelet (Kubernetes' kubelet re-attaches to running containers after
 * a restart): a restarted kubelet's runtime reads the pid files (`recoverContainers`), and the
 * pod statechart re-adopts each container instead of starting it (`adoptContainer`). A pid is
 * only trusted when it is provably the process we started (`isSameProcess`: boot id, start time
 * in /proc, group leadership), so a recycled pid is neither adopted nor killed. The pid files
 * (pid-records.ts) and the identity check (process-identity.ts) are shared with the launcher,
 * which stops the pods of a node that died (`bosun down`). An adopted
 * container is not our child: its exit is noticed by polling its pid on the injected clock, and
 * its exit status cannot be read (`statusUnknown`). Its stdout and stderr still go to the log
 * file it was started with, so its log goes on in the same file.
 *
 * As root (here and in CI), each container runs in its own sandbox (pod-sandbox.ts: mount, UTS
 * and pid namespaces, an overlay root, volumes at their mountPath, the pod's /etc/hosts) with
 * its limits in cgroups (cgroups.ts; an OOM kill is reported as such). The pid the kubelet
 * knows is then `unshare`'s; signals for the container go to the sandbox's INIT, its child, and
 * exec enters the namespaces with `nsenter`. `BOSUN_POD_SANDBOX=off` (or not being root, or no
 * `unshare`) runs containers as plain processes, as before.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import {
  copyFile,
  mkdir,
  open,
  readdir,
  rename,
  rm,
  stat,
  unlink,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import type { Clock, TimerId } from "../system/clock.ts";
import { type CgroupStats, Cgroups } from "./cgroups.ts";
import { completeUtf8Length, leadingContinuationBytes } from "./container-logs.ts";
import { ContainerStdin } from "./container-stdin.ts";
import { containerArgv, resolveImage } from "./image-catalog.ts";
import { DEFAULT_KUBELET_LIMITS, type KubeletLimits } from "./limits.ts";
import { isPodUid, type PidRecord, pidFilePath, podsDir, readPidFiles } from "./pid-records.ts";
import {
  enterArgv,
  pauseArgv,
  podHostsFile,
  SANDBOX_READY_FD,
  type SandboxMount,
  type SandboxPlan,
  sandboxArgv,
} from "./pod-sandbox.ts";
import {
  currentBootId,
  firstChildPid,
  isSameProcess,
  killGroup,
  readProcStat,
} from "./process-identity.ts";
import {
  type ContainerExit,
  type ContainerHandle,
  type ContainerRuntime,
  type ContainerRuntimeStatus,
  type ContainerSpec,
  ContainerStartError,
  type ExecProcess,
  ImagePullError,
  type RecoveredPods,
} from "./runtime.ts";
import { linkMounts, volumeEnvName } from "./volumes.ts";

/**
 * Where a container finds its resolv.conf: the file in its pod's directory, named by this
 * variable (bosun/fetch reads it; a mount namespace may bind it over /etc/resolv.conf).
 */
export const RESOLV_CONF_ENV = "BOSUN_RESOLV_CONF";
const RESOLV_CONF_FILE = "resolv.conf";

type RuntimeLimits = Pick<
  KubeletLimits,
  "logFilesPerContainer" | "maxLogReadBytes" | "adoptedExitPollMs"
>;

interface RunningContainer {
  handle: ContainerHandle;
  /** Runs in a sandbox: its pid is `unshare`'s, the container's INIT is that one's child. */
  sandboxed: boolean;
  /** Its cgroups' id (cgroups.ts), or null without cgroups. */
  cgroupId: string | null;
  /** Null for an adopted container: a previous kubelet was its parent. */
  child: ChildProcess | null;
  /** Set for an adopted container: what its pid must still match while it lives. */
  adopted: PidRecord | null;
  pollTimer: TimerId | null;
  env: Record<string, string>;
  cwd: string;
  exit: ContainerExit | null;
  listeners: Set<(exit: ContainerExit) => void>;
  pidFile: string;
  /** Its stdin when the spec asks for one (container-stdin.ts). */
  stdin: ContainerStdin | null;
  /** The log file of this attempt (what attach follows). */
  logFile: string | null;
}

export interface ProcessRuntimeOptions {
  rootDir: string;
  clock: Clock;
  logger: Logger;
  limits?: Partial<RuntimeLimits>;
  /** Sandbox containers (default: when root, with `unshare`, unless BOSUN_POD_SANDBOX=off). */
  sandbox?: boolean;
}

/**
 * The name a pod's pause process is recorded under (Kubernetes' name for the infra container);
 * no container can have it, as container names are lower-case DNS labels.
 */
const POD_INFRA = "POD";

const SANDBOX_TOOLS = ["/usr/bin/unshare", "/usr/bin/nsenter", "/usr/sbin/chroot"];

/** Whether this process can sandbox containers (see the header). */
export function canSandbox(): boolean {
  if (process.env.BOSUN_POD_SANDBOX === "off") return false;
  return process.getuid?.() === 0 && SANDBOX_TOOLS.every((tool) => existsSync(tool));
}

export class ProcessRuntime implements ContainerRuntime {
  private readonly containers = new Map<string, RunningContainer>();
  /** Recovered at start and not adopted yet, by `<uid>/<container>`. */
  private readonly recovered = new Map<string, PidRecord>();
  /** Pods' pause processes (shareProcessNamespace), by pod uid: their `unshare`'s record. */
  private readonly pauses = new Map<string, PidRecord>();
  private readonly limits: RuntimeLimits;
  readonly honoursMountPaths: boolean;
  private readonly cgroups: Cgroups | null;

  constructor(private readonly options: ProcessRuntimeOptions) {
    this.honoursMountPaths = options.sandbox ?? canSandbox();
    this.cgroups = this.honoursMountPaths ? Cgroups.detect() : null;
    this.limits = {
      logFilesPerContainer: DEFAULT_KUBELET_LIMITS.logFilesPerContainer,
      maxLogReadBytes: DEFAULT_KUBELET_LIMITS.maxLogReadBytes,
      adoptedExitPollMs: DEFAULT_KUBELET_LIMITS.adoptedExitPollMs,
      ...options.limits,
    };
  }

  podDir(podUid: string): string {
    if (!isPodUid(podUid)) throw new Error(`bad pod uid ${podUid}`);
    return join(podsDir(this.options.rootDir), podUid);
  }

  private logDir(podUid: string, containerName: string): string {
    return join(this.podDir(podUid), "logs", containerName);
  }

  private pidFile(podUid: string, containerName: string): string {
    return pidFilePath(this.options.rootDir, podUid, containerName);
  }

  /** The environment a container's processes (and its exec probes) see. */
  private processEnv(spec: ContainerSpec, cwd: string): Record<string, string> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
      HOME: cwd,
      HOSTNAME: spec.podName,
      ...resolveImage(spec.image)?.env,
      ...(spec.ports[0] !== undefined ? { BOSUN_CONTAINER_PORT: String(spec.ports[0]) } : {}),
      ...(spec.resolvConf !== undefined
        ? { [RESOLV_CONF_ENV]: join(this.podDir(spec.podUid), RESOLV_CONF_FILE) }
        : {}),
      ...spec.env,
    };
    // in a sandbox the host's paths are the overlay's lower layer (writes there stay in the
    // container's own layer): the volume is where it is bind-mounted, its mountPath
    for (const mount of spec.volumeMounts)
      env[volumeEnvName(mount.name)] =
        this.honoursMountPaths && mount.mountPath.startsWith("/") && mount.subPath === undefined
          ? mount.mountPath
          : mount.hostPath;
    return env;
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
    if (spec.resolvConf !== undefined)
      await writeFile(join(podDir, RESOLV_CONF_FILE), spec.resolvConf);
    await this.pruneLogs(logDir, spec.attempt);

    const env = this.processEnv(spec, cwd);
    const argv = containerArgv(program, spec.command, spec.args);
    if (argv.length === 0)
      throw new ContainerStartError(`no command specified for image "${spec.image}"`);
    const cgroupId = this.cgroups ? `${spec.podUid}/${spec.containerName}` : null;
    // a terminal: the container runs on a pty (the relay passes stdin and sizes to it)
    const launched = spec.tty ? ["python3", PTY_RELAY, ...argv] : argv;
    if (spec.tty) env.TERM ??= "xterm";
    const spawned = this.honoursMountPaths
      ? sandboxArgv(
          await this.prepareSandbox(spec, cwd, cgroupId),
          launched,
          spec.shareProcessNamespace === true ? await this.podPause(spec) : undefined,
        )
      : launched;
    const stdin = await this.containerStdin(spec);
    const logFile = join(logDir, `${spec.attempt}.log`);
    const logFd = openSync(logFile, "a");
    let child: ChildProcess;
    try {
      child = spawn(spawned[0]!, spawned.slice(1), {
        cwd,
        env,
        detached: true,
        stdio: [
          stdin?.childStdin ?? "ignore",
          logFd,
          logFd,
          stdin?.childControl ?? "ignore",
          "ignore",
          // the sandbox says "ready" here (SANDBOX_READY_FD)
          this.honoursMountPaths ? "pipe" : "ignore",
        ],
      });
      await new Promise<void>((resolve, reject) => {
        child.once("spawn", resolve);
        child.once("error", reject);
      });
    } catch (error) {
      stdin?.close();
      throw new ContainerStartError(
        `failed to start ${argv[0]}: ${(error as Error).message ?? String(error)}`,
      );
    } finally {
      closeSync(logFd);
      stdin?.releaseChildEnds();
    }
    const pid = child.pid!;
    if (this.honoursMountPaths) await this.sandboxReady(child);
    const procStart = readProcStat(pid)?.startTime ?? null;
    const handle: ContainerHandle = {
      // pid and start time name one process for the whole boot: unique across kubelet restarts
      id: `${spec.podUid}/${spec.containerName}/${pid}.${procStart ?? this.options.clock.wallMs()}`,
      podUid: spec.podUid,
      containerName: spec.containerName,
      pid,
      startedAtMs: this.options.clock.wallMs(),
    };
    const pidFile = this.pidFile(spec.podUid, spec.containerName);
    const running: RunningContainer = {
      handle,
      sandboxed: this.honoursMountPaths,
      cgroupId,
      child,
      adopted: null,
      pollTimer: null,
      env,
      cwd,
      exit: null,
      listeners: new Set(),
      pidFile,
      stdin,
      logFile,
    };
    this.containers.set(handle.id, running);
    child.once("exit", (code, signal) => this.exited(running, code, signal));
    // without /proc there is no proving who a pid is later: such a container is not re-adopted
    if (procStart !== null) {
      const record: PidRecord = {
        id: handle.id,
        podUid: spec.podUid,
        containerName: spec.containerName,
        attempt: spec.attempt,
        pid,
        procStart,
        bootId: currentBootId(),
        startedAtMs: handle.startedAtMs,
        podIP: spec.podIP ?? null,
        image: spec.image,
        argv,
        podNamespace: spec.podNamespace,
        podName: spec.podName,
      };
      // written whole or not at all: a torn pid file would orphan the container
      await writeFile(`${pidFile}.tmp`, JSON.stringify(record));
      await rename(`${pidFile}.tmp`, pidFile);
    }
    this.options.logger.debug({ container: handle.id, pid, argv }, "container started");
    return handle;
  }

  private exited(running: RunningContainer, code: number | null, signal: string | null): void {
    if (running.exit) return;
    if (running.pollTimer !== null) this.options.clock.clearTimeout(running.pollTimer);
    running.pollTimer = null;
    // the container's other processes die with its main process
    killGroup(running.handle.pid, "SIGKILL");
    const finishedAtMs = this.options.clock.wallMs();
    const oomKilled =
      running.cgroupId !== null && this.cgroups?.oomKilled(running.cgroupId) === true;
    running.exit = running.adopted
      ? { exitCode: 137, signal: null, finishedAtMs, statusUnknown: true }
      : {
          exitCode: code ?? (signal ? 128 + signalNumber(signal) : 1),
          signal,
          finishedAtMs,
          ...(oomKilled ? { oomKilled } : {}),
        };
    if (running.cgroupId !== null) void this.cgroups?.remove(running.cgroupId);
    running.stdin?.close();
    unlink(running.pidFile).catch(() => {});
    const exit = running.exit;
    for (const listener of [...running.listeners]) listener(exit);
    running.listeners.clear();
  }

  onExit(handle: ContainerHandle, listener: (exit: ContainerExit) => void): () => void {
    const running = this.containers.get(handle.id);
    if (!running) {
      listener(this.forgottenExit());
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
      if (gracePeriodMs > 0) this.terminate(running);
      else killGroup(handle.pid, "SIGKILL");
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
    options: { previous?: boolean; sinceByte?: number; attempt?: number },
  ): Promise<{ text: string; nextByte: number; sizeBytes: number }> {
    const dir = this.logDir(podUid, containerName);
    const files = await logFiles(dir);
    const file =
      options.attempt !== undefined
        ? files.find((f) => f === `${options.attempt}.log`)
        : options.previous
          ? files.at(-2)
          : files.at(-1);
    if (file === undefined) {
      throw new Error(
        options.previous
          ? `previous terminated container "${containerName}" not found`
          : `container "${containerName}" has no logs`,
      );
    }
    const handle = await open(join(dir, file), "r");
    try {
      const size = (await handle.stat()).size;
      const max = this.limits.maxLogReadBytes;
      // a follower reads forward from where it stopped; a whole read keeps the log's tail
      const start =
        options.sinceByte !== undefined
          ? Math.min(Math.max(0, options.sinceByte), size)
          : Math.max(0, size - max);
      const end = Math.min(size, start + max);
      const buffer = Buffer.alloc(end - start);
      await handle.read(buffer, 0, buffer.length, start);
      const skip =
        start > 0 && options.sinceByte === undefined ? leadingContinuationBytes(buffer) : 0;
      const keep = end < size ? completeUtf8Length(buffer) : buffer.length;
      return {
        text: buffer.subarray(skip, keep).toString("utf8"),
        nextByte: start + keep,
        sizeBytes: size,
      };
    } finally {
      await handle.close();
    }
  }

  /** SIGTERM to the container: to its sandbox's INIT (which passes it on), else its group. */
  private terminate(running: RunningContainer): void {
    const init = running.sandboxed ? sandboxInitPid(running.handle.pid) : null;
    if (init === null) {
      killGroup(running.handle.pid, "SIGTERM");
      return;
    }
    try {
      process.kill(init, "SIGTERM");
    } catch {
      // ESRCH: already gone
    }
  }

  /** The argv that runs `command` in the container: inside its sandbox when it has one. */
  private execArgv(running: RunningContainer, command: string[]): string[] {
    const init = running.sandboxed ? sandboxInitPid(running.handle.pid) : null;
    return init === null ? command : enterArgv(init, command);
  }

  exec(handle: ContainerHandle, command: string[], timeoutMs: number): Promise<number> {
    const running = this.containers.get(handle.id);
    if (!running || running.exit || command.length === 0) return Promise.resolve(1);
    const argv = this.execArgv(running, command);
    return new Promise((resolve) => {
      const child = spawn(argv[0]!, argv.slice(1), {
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

  execStream(handle: ContainerHandle, command: string[], options: { tty: boolean }): ExecProcess {
    const running = this.containers.get(handle.id);
    if (!running || running.exit || command.length === 0)
      throw new Error(`container ${handle.containerName} is not running`);
    // with a terminal, the command leads a session of its own inside the container's pid
    // namespace, its terminal the controlling one (`setsid -c`), so a shell's job control works
    const inner = this.execArgv(running, options.tty ? ["setsid", "-c", ...command] : command);
    const argv = options.tty ? ["python3", PTY_RELAY, ...inner] : inner;
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: running.cwd,
      // a terminal needs a TERM (docker sets xterm for a tty)
      env: options.tty ? { TERM: "xterm", ...running.env } : running.env,
      detached: true,
      stdio: options.tty ? ["pipe", "pipe", "ignore", "pipe"] : ["pipe", "pipe", "pipe"],
    });
    const control = options.tty ? (child.stdio[3] as NodeJS.WritableStream | null) : null;
    const exited = new Promise<number>((resolve) => {
      child.once("error", () => resolve(127));
      // "close": exited and its stdio drained, so no output arrives after the exit code
      child.once("close", (code, signal) =>
        resolve(code ?? (signal ? 128 + signalNumber(signal) : 1)),
      );
    });
    return {
      stdin: child.stdin!,
      stdout: child.stdout!,
      stderr: options.tty ? null : child.stderr,
      resize: (width, height) => control?.write(`${width} ${height}\n`),
      kill: () => killGroup(child.pid ?? 0, "SIGKILL"),
      exited,
    };
  }

  containerStats(handle: ContainerHandle): CgroupStats | null {
    const running = this.containers.get(handle.id);
    if (!running || running.exit) return null;
    if (running.cgroupId !== null) {
      const stats = this.cgroups?.stats(running.cgroupId) ?? null;
      if (stats !== null) return stats;
    }
    return procStats(running.sandboxed ? (sandboxInitPid(handle.pid) ?? handle.pid) : handle.pid);
  }

  /**
   * Waits until the sandbox is set up (it says so on SANDBOX_READY_FD, or ends), so the
   * container is reported running only once exec and probes see its files and hostname.
   */
  private async sandboxReady(child: ChildProcess): Promise<void> {
    const stdio: readonly unknown[] = child.stdio;
    const ready = stdio[SANDBOX_READY_FD] as NodeJS.ReadableStream | null | undefined;
    if (!ready) return;
    await new Promise<void>((resolve) => {
      ready.once("data", () => resolve());
      ready.once("close", () => resolve());
      ready.once("error", () => resolve());
    });
    ready.removeAllListeners();
    (ready as unknown as { destroy(): void }).destroy();
  }

  /** The container's stdin FIFO when its spec asks for stdin or a terminal. */
  private async containerStdin(spec: ContainerSpec): Promise<ContainerStdin | null> {
    if (!spec.stdin && !spec.tty) return null;
    const dir = join(this.podDir(spec.podUid), "stdin");
    await mkdir(dir, { recursive: true });
    const path = join(dir, spec.containerName);
    await rm(path, { force: true });
    await rm(`${path}.ctl`, { force: true });
    return ContainerStdin.create(path, { tty: spec.tty === true, once: spec.stdinOnce === true });
  }

  attachStream(handle: ContainerHandle): ExecProcess {
    const running = this.containers.get(handle.id);
    if (!running || running.exit || running.logFile === null)
      throw new Error(`container ${handle.containerName} is not running`);
    const { clock } = this.options;
    const logFile = running.logFile;
    let position: number | null = null;
    let timer: TimerId | null = null;
    let detached = false;
    let resolveExited: (code: number) => void = () => {};
    const exited = new Promise<number>((resolve) => {
      resolveExited = resolve;
    });
    const stdout = new Readable({ read: () => {} });
    // what the container writes from now on, read from its log every ATTACH_POLL_MS
    const poll = async () => {
      timer = null;
      if (detached) return;
      const ended = running.exit !== null;
      const handleFile = await open(logFile, "r").catch(() => null);
      if (handleFile !== null) {
        try {
          const size = (await handleFile.stat()).size;
          position ??= size;
          if (size > position) {
            const buffer = Buffer.alloc(Math.min(size - position, this.limits.maxLogReadBytes));
            const { bytesRead } = await handleFile.read(buffer, 0, buffer.length, position);
            position += bytesRead;
            if (bytesRead > 0) stdout.push(buffer.subarray(0, bytesRead));
            if (position < size) {
              timer = clock.setTimeout(() => void poll(), 0);
              return;
            }
          }
        } finally {
          await handleFile.close();
        }
      }
      if (ended) {
        stdout.push(null);
        resolveExited(0);
        return;
      }
      timer = clock.setTimeout(() => void poll(), ATTACH_POLL_MS);
    };
    void poll();
    const detach = () => {
      detached = true;
      if (timer !== null) clock.clearTimeout(timer);
      if (running.stdin?.once) running.stdin.close();
    };
    const stdin = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        running.stdin?.write(chunk);
        done();
      },
      final: (done) => {
        if (running.stdin?.once) running.stdin.close();
        done();
      },
    });
    return {
      stdin,
      stdout,
      stderr: null,
      resize: (width, height) => running.stdin?.resize(width, height),
      kill: detach,
      exited: exited.then((code) => {
        detach();
        return code;
      }),
    };
  }

  async removePod(podUid: string): Promise<void> {
    for (const [key, record] of this.recovered) {
      if (record.podUid !== podUid) continue;
      this.recovered.delete(key);
      if (isSameProcess(record, readProcStat(record.pid), currentBootId()))
        killGroup(record.pid, "SIGKILL");
    }
    for (const [id, running] of this.containers) {
      if (running.handle.podUid !== podUid) continue;
      if (!running.exit) await this.stopContainer(running.handle, 0);
      this.containers.delete(id);
    }
    const pause = this.pauses.get(podUid);
    this.pauses.delete(podUid);
    if (pause !== undefined && isSameProcess(pause, readProcStat(pause.pid), currentBootId()))
      killGroup(pause.pid, "SIGKILL");
    await this.cgroups?.removePod(podUid);
    await rm(this.podDir(podUid), { recursive: true, force: true });
  }

  /**
   * The pid of PID 1 of the pod's shared pid namespace (shareProcessNamespace): its pause
   * process, started with the pod's first container, or re-adopted from a previous kubelet's
   * pid file, or started again if it died (its containers died with it).
   */
  private async podPause(spec: ContainerSpec): Promise<number> {
    const alive = (r: PidRecord) => isSameProcess(r, readProcStat(r.pid), currentBootId());
    const known = this.pauses.get(spec.podUid);
    const recoveredKey = `${spec.podUid}/${POD_INFRA}`;
    const recovered = this.recovered.get(recoveredKey);
    this.recovered.delete(recoveredKey);
    for (const record of [known, recovered]) {
      if (record === undefined || !alive(record)) continue;
      const init = firstChildPid(record.pid);
      if (init === null) continue;
      this.pauses.set(spec.podUid, record);
      return init;
    }
    const argv = pauseArgv();
    const child = spawn(argv[0]!, argv.slice(1), {
      detached: true,
      stdio: ["ignore", "ignore", "ignore", "ignore", "ignore", "pipe"],
    });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    }).catch((error: Error) => {
      throw new ContainerStartError(`failed to start the pod's pause process: ${error.message}`);
    });
    await this.sandboxReady(child);
    child.unref();
    const pid = child.pid!;
    const init = firstChildPid(pid);
    if (init === null) throw new ContainerStartError("the pod's pause process ended at once");
    const record: PidRecord = {
      id: `${spec.podUid}/${POD_INFRA}/${pid}`,
      podUid: spec.podUid,
      containerName: POD_INFRA,
      attempt: 0,
      pid,
      procStart: readProcStat(pid)?.startTime ?? "",
      bootId: currentBootId(),
      startedAtMs: this.options.clock.wallMs(),
      podIP: spec.podIP ?? null,
      image: "pause",
      argv,
      podNamespace: spec.podNamespace,
      podName: spec.podName,
    };
    this.pauses.set(spec.podUid, record);
    // recorded like a container's, so `bosun down` and a restarted kubelet find it
    const pidFile = this.pidFile(spec.podUid, POD_INFRA);
    await mkdir(join(this.podDir(spec.podUid), "pids"), { recursive: true });
    await writeFile(`${pidFile}.tmp`, JSON.stringify(record));
    await rename(`${pidFile}.tmp`, pidFile);
    return init;
  }

  /** Containers still running (for shutdown and tests). */
  runningHandles(): ContainerHandle[] {
    return [...this.containers.values()].filter((c) => !c.exit).map((c) => c.handle);
  }

  /**
   * Reads every pid file a previous kubelet left: a process that is provably the one it started
   * is kept for adoption; any other pid file is dropped — its process is gone, or the pid now
   * names someone else's process, which is not ours to kill.
   */
  async recoverContainers(): Promise<RecoveredPods> {
    const { podUids, files } = readPidFiles(this.options.rootDir);
    const result: RecoveredPods = { containers: [], podUids };
    for (const { podUid, path, record } of files) {
      if (record === null || !isSameProcess(record, readProcStat(record.pid), currentBootId())) {
        await unlink(path).catch(() => {});
        continue;
      }
      this.recovered.set(`${podUid}/${record.containerName}`, record);
      result.containers.push({
        podUid,
        containerName: record.containerName,
        pid: record.pid,
        podIP: record.podIP,
      });
    }
    return result;
  }

  async adoptContainer(
    spec: ContainerSpec,
  ): Promise<{ handle: ContainerHandle; attempt: number } | null> {
    const key = `${spec.podUid}/${spec.containerName}`;
    const record = this.recovered.get(key);
    if (record === undefined) return null;
    this.recovered.delete(key);
    const pidFile = this.pidFile(spec.podUid, spec.containerName);
    if (!isSameProcess(record, readProcStat(record.pid), currentBootId())) {
      await unlink(pidFile).catch(() => {}); // died since recovery: it is started afresh
      return null;
    }
    const cwd = join(this.podDir(spec.podUid), spec.containerName);
    const running: RunningContainer = {
      handle: {
        id: record.id,
        podUid: record.podUid,
        containerName: record.containerName,
        pid: record.pid,
        startedAtMs: record.startedAtMs,
      },
      // a sandboxed container's recorded pid is its `unshare`
      sandboxed: readProcComm(record.pid) === "unshare",
      cgroupId: this.cgroups ? `${spec.podUid}/${spec.containerName}` : null,
      child: null,
      adopted: record,
      pollTimer: null,
      env: this.processEnv(spec, cwd),
      cwd,
      exit: null,
      listeners: new Set(),
      pidFile,
      // an adopted container's stdin writer died with the previous kubelet
      stdin: null,
      logFile: join(this.logDir(spec.podUid, spec.containerName), `${record.attempt}.log`),
    };
    this.containers.set(record.id, running);
    this.pollAdopted(running);
    const program = resolveImage(spec.image);
    const argv = program ? containerArgv(program, spec.command, spec.args) : [];
    if (record.image !== spec.image || !sameArgv(record.argv, argv)) {
      // ours, but not what the pod asks for now (Kubernetes restarts a container whose spec
      // hash changed): it goes before its replacement starts
      await this.stopContainer(running.handle, 0);
      this.containers.delete(record.id);
      return null;
    }
    this.options.logger.info({ container: record.id, pid: record.pid }, "container re-adopted");
    return { handle: running.handle, attempt: record.attempt };
  }

  /** An adopted container's exit, noticed by polling: it is not our child to wait for. */
  private pollAdopted(running: RunningContainer): void {
    const record = running.adopted;
    if (record === null) return;
    const clock = this.options.clock;
    const check = () => {
      running.pollTimer = null;
      if (running.exit) return;
      if (!isSameProcess(record, readProcStat(record.pid), currentBootId())) {
        this.exited(running, null, null);
        return;
      }
      running.pollTimer = clock.setTimeout(check, this.limits.adoptedExitPollMs);
    };
    running.pollTimer = clock.setTimeout(check, this.limits.adoptedExitPollMs);
  }

  /** Stops polling adopted containers (a kubelet leaving its containers running). */
  detach(): void {
    for (const running of this.containers.values()) {
      if (running.pollTimer !== null) this.options.clock.clearTimeout(running.pollTimer);
      running.pollTimer = null;
    }
  }

  /**
   * The container's sandbox (pod-sandbox.ts): a fresh overlay directory (a restarted container
   * starts from the image again), the pod's /etc files, its cgroups, and the mounts.
   */
  private async prepareSandbox(
    spec: ContainerSpec,
    cwd: string,
    cgroupId: string | null,
  ): Promise<SandboxPlan> {
    const podDir = this.podDir(spec.podUid);
    const dir = join(podDir, "sandbox", spec.containerName);
    await rm(dir, { recursive: true, force: true });
    for (const sub of ["upper", "work", "root"]) await mkdir(join(dir, sub), { recursive: true });
    const etc = join(podDir, "etc");
    const serviceAccount = join(podDir, "serviceaccount");
    await mkdir(etc, { recursive: true });
    await mkdir(serviceAccount, { recursive: true });
    await writeFile(join(etc, "hosts"), podHostsFile(spec.podIP ?? "127.0.0.1", spec.podName));
    await writeFile(join(etc, "hostname"), `${spec.podName}\n`);
    // the pod's resolv.conf per its dnsPolicy (kube-dns, search paths, ndots); without one (no
    // cluster DNS configured) the host's resolver, as a pod on the host network would have
    if (spec.resolvConf !== undefined) await writeFile(join(etc, "resolv.conf"), spec.resolvConf);
    else
      await copyFile("/etc/resolv.conf", join(etc, "resolv.conf")).catch(() =>
        writeFile(join(etc, "resolv.conf"), ""),
      );
    await writeFile(join(serviceAccount, "namespace"), spec.podNamespace);
    const mounts: SandboxMount[] = [];
    const taken = new Set(spec.volumeMounts.map((m) => m.mountPath));
    for (const m of spec.volumeMounts) {
      if (!m.mountPath.startsWith("/") || m.mountPath.split("/").includes("..")) continue;
      let source = m.hostPath;
      if (m.subPath !== undefined) {
        if (m.subPath.startsWith("/") || m.subPath.split("/").includes("..")) continue;
        source = join(m.hostPath, m.subPath);
        // Kubernetes makes a missing subPath a directory
        if (!existsSync(source)) await mkdir(source, { recursive: true });
      }
      const file = (await stat(source)).isFile();
      mounts.push({ source, target: m.mountPath, readOnly: m.readOnly, file });
    }
    const podFiles: SandboxMount[] = [
      { source: join(etc, "hosts"), target: "/etc/hosts", readOnly: false, file: true },
      { source: join(etc, "hostname"), target: "/etc/hostname", readOnly: false, file: true },
      { source: join(etc, "resolv.conf"), target: "/etc/resolv.conf", readOnly: false, file: true },
      {
        source: serviceAccount,
        target: SERVICE_ACCOUNT_MOUNT_PATH,
        readOnly: true,
        file: false,
      },
    ];
    mounts.push(...podFiles.filter((f) => !taken.has(f.target)));
    const cgroupProcs =
      cgroupId !== null && this.cgroups
        ? await this.cgroups.create(cgroupId, spec.limits ?? {})
        : [];
    return { dir, hostname: spec.podName, cwd, cgroupProcs, mounts };
  }

  private async pruneLogs(logDir: string, attempt: number): Promise<void> {
    // the attempt's file is appended to (an attempt re-run after a kubelet restart keeps its log)
    const files = (await logFiles(logDir)).filter((f) => f !== `${attempt}.log`);
    for (const file of files.slice(
      0,
      Math.max(0, files.length - this.limits.logFilesPerContainer + 1),
    ))
      await unlink(join(logDir, file)).catch(() => {});
  }
}

/** How often an attached client's output is read from the container's log. */
const ATTACH_POLL_MS = 100;

/** The pty for `kubectl exec -t` (python3's pty module: no native npm build). */
const PTY_RELAY = fileURLToPath(new URL("./pty/pty-relay.py", import.meta.url));

/** Where Kubernetes mounts a pod's service account (its token, CA and namespace). */
const SERVICE_ACCOUNT_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const CLOCK_TICKS_PER_SECOND = 100;

/** A process's own CPU time and resident memory from /proc (no cgroups: its children are not counted). */
function procStats(pid: number): CgroupStats | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name
    const ticks = Number(fields[11]) + Number(fields[12]);
    const rss = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return {
      cpuUsageNanos: (ticks / CLOCK_TICKS_PER_SECOND) * 1e9,
      memoryUsageBytes: rss ? Number(rss[1]) * 1024 : 0,
    };
  } catch {
    return null;
  }
}

/** The command name of `pid` (/proc/<pid>/comm), or null. */
/**
 * A sandboxed container's INIT: below its `unshare` (and, in a shared pid namespace, the
 * `nsenter` that joined it), the first process that is neither; null when there is none yet.
 */
function sandboxInitPid(pid: number): number | null {
  let current: number | null = pid;
  for (let depth = 0; current !== null && depth < 3; depth++) {
    const comm = readProcComm(current);
    if (comm !== "unshare" && comm !== "nsenter") return depth === 0 ? null : current;
    current = firstChildPid(current);
  }
  return null;
}

function readProcComm(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return null;
  }
}

function sameArgv(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** `<n>.log` files, oldest attempt first. */
async function logFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .filter((n) => /^\d+\.log$/.test(n))
    .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
function signalNumber(signal: string): number {
  return SIGNALS[signal] ?? 0;
}
