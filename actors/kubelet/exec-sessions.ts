/**
 * The kubelet's side of `kubectl exec` (exec-protocol.ts): each session is a command running in
 * a container (the runtime's `execStream`), its output sent to the API server that asked, in
 * chunks of at most MAX_EXEC_CHUNK_BYTES, its input written as it comes.
 *
 * Backpressure: once MAX_UNACKED_OUTPUT_BYTES of output are in flight and not yet credited back
 * (taken by the client), the command's stdout and stderr are paused, so a command that writes
 * faster than the client reads blocks on its pipe, as it would on a slow terminal. Stdin bytes
 * are credited back once written to the command.
 *
 * The exit goes out once the command has exited and its output is drained (the runtime's
 * `exited`), so no output follows it. At most `maxExecSessions` run per kubelet.
 */
import {
  type ExecExit,
  type ExecOutput,
  type ExecRefusal,
  type ExecStartReply,
  type ExecStartRequest,
  MAX_EXEC_CHUNK_BYTES,
  MAX_UNACKED_OUTPUT_BYTES,
} from "../api/exec-protocol.ts";
import type { ContainerHandle, ContainerRuntime, ExecProcess } from "./runtime.ts";

export interface ExecSessionsDeps {
  runtime: ContainerRuntime;
  /** The running container `request` names, or why not (Kubernetes' messages). */
  find(request: ExecStartRequest): ContainerHandle | { refused: ExecRefusal; message: string };
  /** Sends a message to an actor address (a tell). */
  send(to: string, kind: "exec.output" | "exec.exit" | "exec.stdin.credit", body: unknown): void;
  maxExecSessions: number;
}

interface Session {
  id: string;
  replyTo: string;
  process: ExecProcess;
  /** Output bytes sent and not yet credited. */
  unacked: number;
  paused: boolean;
}

export class ExecSessions {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly deps: ExecSessionsDeps) {}

  get count(): number {
    return this.sessions.size;
  }

  start(request: ExecStartRequest): ExecStartReply {
    if (this.sessions.has(request.session))
      return { refused: "BadRequest", message: `exec session ${request.session} already runs` };
    if (this.sessions.size >= this.deps.maxExecSessions)
      return {
        refused: "TooManyRequests",
        message: `this node already runs ${this.deps.maxExecSessions} exec sessions (maxExecSessions)`,
      };
    const found = this.deps.find(request);
    if ("refused" in found) return found;
    const { runtime } = this.deps;
    let process: ExecProcess;
    try {
      if (request.attach) {
        if (runtime.attachStream === undefined)
          throw new Error("this node's runtime has no attach");
        process = runtime.attachStream(found);
      } else {
        if (runtime.execStream === undefined) throw new Error("this node's runtime has no exec");
        process = runtime.execStream(found, request.command, { tty: request.tty });
      }
    } catch (error) {
      return { refused: "BadRequest", message: (error as Error).message };
    }
    const session: Session = {
      id: request.session,
      replyTo: request.replyTo,
      process,
      unacked: 0,
      paused: false,
    };
    this.sessions.set(session.id, session);
    this.pipe(session, process.stdout, 1);
    if (process.stderr) this.pipe(session, process.stderr, 2);
    // an attach without -i leaves the container's stdin alone (ending it would close it)
    if (!request.stdin && !request.attach) process.stdin.end();
    process.stdin.on("error", () => {}); // EPIPE: the command closed its stdin early
    void process.exited.then((exitCode) => this.finish(session, { session: session.id, exitCode }));
    return { started: true };
  }

  private pipe(session: Session, stream: NodeJS.ReadableStream, channel: 1 | 2): void {
    stream.on("data", (chunk: Buffer) => {
      for (let at = 0; at < chunk.length; at += MAX_EXEC_CHUNK_BYTES) {
        const data = chunk.subarray(at, at + MAX_EXEC_CHUNK_BYTES);
        const output: ExecOutput = { session: session.id, stream: channel, data };
        this.deps.send(session.replyTo, "exec.output", output);
        session.unacked += data.length;
      }
      if (session.unacked > MAX_UNACKED_OUTPUT_BYTES && !session.paused) {
        session.paused = true;
        session.process.stdout.pause();
        session.process.stderr?.pause();
      }
    });
  }

  private finish(session: Session, exit: ExecExit): void {
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    this.deps.send(session.replyTo, "exec.exit", exit);
  }

  stdin(id: string, data: Uint8Array): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    session.process.stdin.write(Buffer.from(data), () =>
      this.deps.send(session.replyTo, "exec.stdin.credit", { session: id, bytes: data.length }),
    );
  }

  closeStdin(id: string): void {
    this.sessions.get(id)?.process.stdin.end();
  }

  resize(id: string, width: number, height: number): void {
    if (width > 0 && height > 0) this.sessions.get(id)?.process.resize(width, height);
  }

  credit(id: string, bytes: number): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    session.unacked = Math.max(0, session.unacked - bytes);
    if (session.paused && session.unacked <= MAX_UNACKED_OUTPUT_BYTES / 2) {
      session.paused = false;
      session.process.stdout.resume();
      session.process.stderr?.resume();
    }
  }

  /** The client went away: the command is killed (its exit is not sent). */
  cancel(id: string): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    this.sessions.delete(id);
    session.process.kill();
  }

  /** Kills every session (the kubelet stops). */
  stop(): void {
    for (const id of [...this.sessions.keys()]) this.cancel(id);
  }
}
