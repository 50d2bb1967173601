/**
 * pods/exec and pods/attach over the mesh (`kubectl exec`, `kubectl cp` through it, `kubectl
 * attach` and `kubectl run -it`): the API server holds
 * the client's WebSocket and relays it to the kubelet of the pod's node, which runs the command
 * in the container. One session per exec, named by the API server:
 *
 *   API server → kubelet (`<node>/kubelet`)
 *     kubelet.exec.start  ExecStartRequest        → ExecStartReply (started, or why not)
 *     kubelet.exec.stdin  {session, data}           bytes for the command's stdin
 *     kubelet.exec.stdin.close {session}            stdin ended (v5's CLOSE of stream 0)
 *     kubelet.exec.resize {session, width, height}  the terminal's size (TTY)
 *     kubelet.exec.credit {session, bytes}          output bytes the client has taken
 *     kubelet.exec.cancel {session}                 the client went away: kill the command
 *
 *   kubelet → API server (`replyTo`, the API server's exec-streams actor)
 *     exec.output {session, stream: 1|2, data}      stdout, stderr
 *     exec.stdin.credit {session, bytes}            stdin bytes written to the command
 *     exec.exit   {session, exitCode} | {session, error}
 *
 * Backpressure both ways, by credit: the kubelet stops reading the command's output once
 * `maxUnackedOutputBytes` are in flight and not yet taken by the client; the API server stops
 * reading the client's socket once `maxUnackedStdinBytes` are in flight to the kubelet.
 */

export const EXEC_STREAMS_ACTOR = "apiserver-exec";

/** Output bytes in flight (sent by the kubelet, not yet taken by the client) per session. */
export const MAX_UNACKED_OUTPUT_BYTES = 1024 * 1024;
/** Stdin bytes in flight (read from the client, not yet written to the command) per session. */
export const MAX_UNACKED_STDIN_BYTES = 1024 * 1024;
/** The most a single output message carries. */
export const MAX_EXEC_CHUNK_BYTES = 64 * 1024;

export interface ExecStartRequest {
  session: string;
  namespace: string;
  pod: string;
  container?: string;
  /** Empty for an attach. */
  command: string[];
  /** pods/attach: the container's own streams, not a new command. */
  attach?: boolean;
  stdin: boolean;
  tty: boolean;
  /** Where output and the exit go (an actor address). */
  replyTo: string;
}

export type ExecRefusal = "BadRequest" | "NotFound" | "TooManyRequests";

export type ExecStartReply = { started: true } | { refused: ExecRefusal; message: string };

export interface ExecOutput {
  session: string;
  /** 1 stdout, 2 stderr (the channel numbers of the Kubernetes stream protocol). */
  stream: 1 | 2;
  data: Uint8Array;
}

export type ExecExit = { session: string; exitCode: number } | { session: string; error: string };
