/**
 * pods/exec and pods/attach (`kubectl exec`, `kubectl cp`, `kubectl attach`, `kubectl run
 * -it`): the client's WebSocket, held here and relayed to the kubelet of the pod's node over the
 * mesh (exec-protocol.ts). An attach streams the container's own output from now on (and its
 * stdin and terminal when its spec has them) until the container exits.
 *
 * The wire is Kubernetes' channel protocol (k8s.io/apimachinery wsstream and
 * remotecommand): the client offers subprotocols and the server picks the newest it knows —
 * `v5.channel.k8s.io` (kubectl ≥ 1.30), `v4.channel.k8s.io` (older kubectls; no half-close),
 * or the older ones. Every binary message is one channel byte and its data: 0 stdin, 1 stdout,
 * 2 stderr, 3 the error channel, 4 resize (`{"Width":w,"Height":h}`); in v5, 255 is CLOSE, its
 * data the channel being closed (stdin's end). The command's end is a metav1.Status on channel
 * 3 — `Success`, or `Failure` with reason `NonZeroExitCode` and the exit code as the cause of
 * type `ExitCode`, which kubectl turns into its own exit code — and then the socket closes.
 *
 * SPDY (kubectl's fallback when the WebSocket upgrade fails) is not served: a 400 says so.
 * Limits: `maxExecSessions` per API server (429 beyond), client messages of at most
 * MAX_CLIENT_MESSAGE_BYTES, stdin paused while MAX_UNACKED_STDIN_BYTES are on their way to the
 * kubelet, and the kubelet's output credited back only once written to the socket.
 */
import { randomUUID } from "node:crypto";
import { type IncomingMessage, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { type WebSocket, WebSocketServer } from "ws";
import {
  type ExecExit,
  type ExecOutput,
  type ExecStartReply,
  type ExecStartRequest,
  MAX_UNACKED_STDIN_BYTES,
} from "../api/exec-protocol.ts";
import { asObject, asString } from "../api/json.ts";
import { RESOURCES } from "../api/resources.ts";
import {
  badRequestStatus,
  execExitStatus,
  type Status,
  tooManyRequestsStatus,
} from "../api/status.ts";
import { ApiError } from "../client/errors.ts";
import { readObject } from "./guaranteed-update.ts";
import type { ObjectStore } from "./object-store.ts";
import { podLogContainer } from "./pod-logs.ts";

/** The channel subprotocols, newest first: the server picks the first the client offers. */
export const CHANNEL_PROTOCOLS = [
  "v5.channel.k8s.io",
  "v4.channel.k8s.io",
  "v3.channel.k8s.io",
  "v2.channel.k8s.io",
  "channel.k8s.io",
] as const;

const STDIN = 0;
const STDOUT = 1;
const ERROR = 3;
const RESIZE = 4;
/** v5's CLOSE signal: its data is the channel the client closed. */
const CLOSE = 255;

/** The most one client message may carry (stdin chunks, resizes). */
export const MAX_CLIENT_MESSAGE_BYTES = 1024 * 1024;
/** Exec sessions one API server relays at once. */
export const DEFAULT_MAX_EXEC_SESSIONS = 64;

/** The kubelet messages of a running session (exec-protocol.ts). */
export type KubeletExecTell =
  | "kubelet.exec.stdin"
  | "kubelet.exec.stdin.close"
  | "kubelet.exec.resize"
  | "kubelet.exec.credit"
  | "kubelet.exec.cancel";

/** How the API server reaches kubelets for pods/exec (over the actor system). */
export interface PodExecRelay {
  /** The address kubelets send a session's output and exit to. */
  readonly replyTo: string;
  start(node: string, request: ExecStartRequest): Promise<ExecStartReply>;
  tell(node: string, kind: KubeletExecTell, body: unknown): void;
}

/** What the exec-streams actor hands over (what a kubelet sent). */
export type ExecDelivery =
  | { kind: "exec.output"; body: ExecOutput }
  | { kind: "exec.exit"; body: ExecExit }
  | { kind: "exec.stdin.credit"; body: { session: string; bytes: number } };

/** What the client asked for: the kubelet's start request without the relay's parts. */
type ExecOptions = Omit<ExecStartRequest, "session" | "replyTo">;

interface Session {
  id: string;
  node: string;
  ws: WebSocket;
  v5: boolean;
  /** Stdin bytes sent to the kubelet and not yet written to the command. */
  stdinUnacked: number;
  done: boolean;
}

const PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(exec|attach)$/;
const PODS = RESOURCES.find((r) => r.group === "" && r.plural === "pods");

const truthy = (value: string | null) => value === "true" || value === "1";

/** An HTTP answer written on a socket that was not upgraded. */
function refuseUpgrade(socket: Duplex, status: Status): void {
  const body = JSON.stringify(status);
  const code = status.code || 400;
  socket.end(
    `HTTP/1.1 ${code} ${STATUS_CODES[code] ?? "Error"}\r\n` +
      "Content-Type: application/json\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      "Connection: close\r\n\r\n" +
      body,
  );
}

export class PodExecServer {
  private readonly sessions = new Map<string, Session>();
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_CLIENT_MESSAGE_BYTES,
    handleProtocols: (offered) => CHANNEL_PROTOCOLS.find((p) => offered.has(p)) ?? false,
  });

  constructor(
    private readonly deps: {
      relay: PodExecRelay;
      store: ObjectStore;
      logger: Logger;
      maxExecSessions?: number;
    },
  ) {}

  /** Whether `path` is one this server upgrades (pods/exec, pods/attach). */
  static serves(path: string): boolean {
    return PATH.test(path);
  }

  /** Serves an upgrade request for pods/exec (the caller has authenticated it). */
  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    let options: ExecOptions;
    let node: string;
    try {
      ({ options, node } = await this.admit(req));
    } catch (error) {
      const status =
        error instanceof ApiError ? error.status : badRequestStatus((error as Error).message);
      refuseUpgrade(socket, status);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => void this.run(ws, options, node));
  }

  /** Checks the request and finds the pod's node, before the upgrade (kube-apiserver's order). */
  private async admit(req: IncomingMessage): Promise<{ options: ExecOptions; node: string }> {
    const url = new URL(req.url ?? "/", "http://apiserver");
    const match = PATH.exec(url.pathname);
    if (match === null || PODS === undefined) throw new Error("not a pods/exec path");
    const [, namespace = "", pod = "", subresource] = match;
    const attach = subresource === "attach";
    if ((req.headers.upgrade ?? "").toLowerCase() !== "websocket")
      throw new ApiError(
        badRequestStatus(
          `Upgrade request required: this server streams pods/exec over WebSocket (${CHANNEL_PROTOCOLS.join(", ")}), not SPDY`,
        ),
      );
    const command = attach ? [] : url.searchParams.getAll("command");
    if (!attach && command.length === 0)
      throw new ApiError(
        badRequestStatus("you must specify at least one command for the container"),
      );
    if (this.sessions.size >= (this.deps.maxExecSessions ?? DEFAULT_MAX_EXEC_SESSIONS))
      throw new ApiError(tooManyRequestsStatus("too many exec sessions on this API server", 1));
    const stored = await readObject(this.deps.store, {
      resource: PODS,
      namespace: decodeURIComponent(namespace),
      name: decodeURIComponent(pod),
      subresource: null,
      verb: "get",
    });
    const object = stored.object;
    const phase = asString(asObject(object.status).phase);
    if (phase === "Succeeded" || phase === "Failed")
      throw new ApiError(
        badRequestStatus(
          `cannot exec into a container in a completed pod; current phase is ${phase}`,
        ),
      );
    const node = asString(asObject(object.spec).nodeName);
    if (node === "")
      throw new ApiError(
        badRequestStatus(`pod ${decodeURIComponent(pod)} does not have a host assigned`),
      );
    const container = podLogContainer(object, url.searchParams.get("container") ?? undefined);
    return {
      node,
      options: {
        namespace: decodeURIComponent(namespace),
        pod: decodeURIComponent(pod),
        container,
        command,
        ...(attach ? { attach } : {}),
        stdin: truthy(url.searchParams.get("stdin")),
        tty: truthy(url.searchParams.get("tty")),
      },
    };
  }

  private async run(ws: WebSocket, options: ExecOptions, node: string): Promise<void> {
    const session: Session = {
      id: randomUUID(),
      node,
      ws,
      v5: ws.protocol === "v5.channel.k8s.io",
      stdinUnacked: 0,
      done: false,
    };
    this.sessions.set(session.id, session);
    const { relay } = this.deps;
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (!isBinary || data.length === 0 || session.done) return;
      this.fromClient(session, data);
    });
    ws.on("close", () => {
      if (!session.done) relay.tell(node, "kubelet.exec.cancel", { session: session.id });
      session.done = true;
      this.sessions.delete(session.id);
    });
    ws.on("error", () => ws.terminate());
    let reply: ExecStartReply;
    try {
      reply = await relay.start(node, {
        session: session.id,
        ...options,
        replyTo: relay.replyTo,
      });
    } catch (error) {
      reply = { refused: "BadRequest", message: `node ${node}: ${(error as Error).message}` };
    }
    if ("refused" in reply) this.end(session, { ...badRequestStatus(reply.message) });
  }

  private fromClient(session: Session, data: Buffer): void {
    const { relay } = this.deps;
    const channel = data[0];
    const payload = data.subarray(1);
    if (channel === STDIN) {
      session.stdinUnacked += payload.length;
      relay.tell(session.node, "kubelet.exec.stdin", { session: session.id, data: payload });
      if (session.stdinUnacked > MAX_UNACKED_STDIN_BYTES) session.ws.pause();
    } else if (channel === RESIZE) {
      try {
        const size = JSON.parse(payload.toString("utf8")) as { Width?: number; Height?: number };
        relay.tell(session.node, "kubelet.exec.resize", {
          session: session.id,
          width: Number(size.Width),
          height: Number(size.Height),
        });
      } catch {
        // a malformed resize is dropped, as the kubelet's handler does
      }
    } else if (channel === CLOSE && session.v5 && payload[0] === STDIN) {
      relay.tell(session.node, "kubelet.exec.stdin.close", { session: session.id });
    }
  }

  /** What a kubelet sent for a session (through the exec-streams actor). */
  deliver(delivery: ExecDelivery): void {
    const session = this.sessions.get(delivery.body.session);
    if (session === undefined || session.done) return;
    if (delivery.kind === "exec.output") {
      const { stream, data } = delivery.body;
      const frame = Buffer.concat([Buffer.from([stream === 2 ? 2 : STDOUT]), Buffer.from(data)]);
      session.ws.send(frame, { binary: true }, () =>
        this.deps.relay.tell(session.node, "kubelet.exec.credit", {
          session: session.id,
          bytes: data.length,
        }),
      );
    } else if (delivery.kind === "exec.stdin.credit") {
      session.stdinUnacked = Math.max(0, session.stdinUnacked - delivery.body.bytes);
      if (session.stdinUnacked <= MAX_UNACKED_STDIN_BYTES / 2) session.ws.resume();
    } else {
      const exit = delivery.body;
      this.end(
        session,
        "exitCode" in exit ? execExitStatus(exit.exitCode) : badRequestStatus(exit.error),
      );
    }
  }

  /** The error channel's Status, then the close (the client reads until then). */
  private end(session: Session, status: Status): void {
    if (session.done) return;
    session.done = true;
    this.sessions.delete(session.id);
    const { code: _code, ...body } = status;
    const frame = Buffer.concat([Buffer.from([ERROR]), Buffer.from(JSON.stringify(body))]);
    session.ws.send(frame, { binary: true }, () => session.ws.close(1000));
  }

  /** Ends every session (the server stops). */
  stop(): void {
    for (const session of this.sessions.values()) {
      this.deps.relay.tell(session.node, "kubelet.exec.cancel", { session: session.id });
      session.ws.terminate();
    }
    this.sessions.clear();
    this.wss.close();
  }
}
