/**
 * pods/portforward (`kubectl port-forward`): kubectl 1.32 tunnels a SPDY/3.1 connection through a
 * WebSocket (subprotocol `SPDY/3.1+portforward.k8s.io`), and speaks Kubernetes' port-forward
 * protocol over it (the kubelet's portforward/httpstream.go): per forwarded connection the
 * client opens two streams with the same `requestID` header, an `error` stream and a `data`
 * stream, each naming the `port`. The server answers each with a SYN_REPLY; once both are there
 * it connects to the pod's port and copies bytes both ways (a DATA frame with FIN is a
 * half-close); a failed connect is written on the error stream. PINGs are echoed.
 *
 * Pods live on loopback addresses of this host, which every node shares, so the API server
 * connects to `podIP:port` itself instead of going through the kubelet (on separate hosts this
 * would be relayed over the mesh like pods/exec).
 *
 * Limits: MAX_PORT_FORWARD_CONNECTIONS per API server, MAX_STREAMS_PER_CONNECTION, frames of
 * MAX_SPDY_FRAME_BYTES; a pod connection is paused while the WebSocket has more than
 * MAX_BUFFERED_BYTES waiting to go out.
 */
import type { IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { type WebSocket, WebSocketServer } from "ws";
import { asObject, asString } from "../api/json.ts";
import { RESOURCES } from "../api/resources.ts";
import { badRequestStatus, type Status, tooManyRequestsStatus } from "../api/status.ts";
import { ApiError } from "../client/errors.ts";
import { readObject } from "./guaranteed-update.ts";
import type { ObjectStore } from "./object-store.ts";
import {
  controlFrame,
  dataFrame,
  FLAG_FIN,
  GOAWAY,
  HeaderDeflater,
  HeaderInflater,
  MAX_SPDY_FRAME_BYTES,
  PING,
  RST_PROTOCOL_ERROR,
  RST_REFUSED_STREAM,
  RST_STREAM,
  rstStreamFrame,
  type SpdyFrame,
  SpdyParser,
  SYN_REPLY,
  SYN_STREAM,
} from "./spdy-framing.ts";

export const PORT_FORWARD_PROTOCOL = "SPDY/3.1+portforward.k8s.io";
/** PORT_FORWARD_PROTOCOL as an RFC 7230 token, for `ws` (see handleUpgrade). */
const PROTOCOL_TOKEN = "bosun.portforward.spdy";
export const MAX_PORT_FORWARD_CONNECTIONS = 64;
export const MAX_STREAMS_PER_CONNECTION = 256;
/** Bytes waiting in the WebSocket before the pod's side is paused. */
export const MAX_BUFFERED_BYTES = 1024 * 1024;
/** The most one DATA frame carries towards the client. */
const DATA_CHUNK_BYTES = 32 * 1024;

const PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/portforward$/;
const PODS = RESOURCES.find((r) => r.group === "" && r.plural === "pods");

interface Stream {
  id: number;
  type: "data" | "error";
  requestId: string;
  port: number;
}

interface Forward {
  data?: Stream;
  error?: Stream;
  socket?: Socket;
}

function refuse(socket: Duplex, status: Status): void {
  const body = JSON.stringify(status);
  socket.end(
    `HTTP/1.1 ${status.code} Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** One tunneled SPDY connection and the pod connections it carries. */
class PortForwardConnection {
  private readonly parser = new SpdyParser();
  private readonly inflater = new HeaderInflater();
  private readonly deflater = new HeaderDeflater();
  private readonly streams = new Map<number, Stream>();
  private readonly forwards = new Map<string, Forward>();
  private closed = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly podIP: string,
    private readonly podName: string,
    private readonly onClose: () => void,
  ) {
    ws.on("message", (bytes: Buffer) => this.receive(bytes));
    ws.on("close", () => this.close());
    ws.on("error", () => ws.terminate());
  }

  private receive(bytes: Buffer): void {
    let frames: SpdyFrame[];
    try {
      frames = this.parser.push(bytes);
    } catch {
      this.ws.close(1002, "SPDY protocol error");
      return;
    }
    for (const frame of frames) this.frame(frame);
  }

  private send(bytes: Buffer, done?: () => void): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(bytes, { binary: true }, done);
  }

  private frame(frame: SpdyFrame): void {
    if (!frame.control) this.data(frame.streamId, frame.flags, frame.data);
    else if (frame.type === SYN_STREAM) void this.synStream(frame.data);
    else if (frame.type === PING) this.send(controlFrame(PING, 0, frame.data));
    else if (frame.type === RST_STREAM && frame.data.length >= 4)
      this.reset(frame.data.readUInt32BE(0) & 0x7fffffff);
    else if (frame.type === GOAWAY) this.ws.close(1000);
    // SETTINGS, WINDOW_UPDATE, HEADERS: nothing to do (no flow control on this side)
  }

  private async synStream(data: Buffer): Promise<void> {
    if (data.length < 10) return;
    const id = data.readUInt32BE(0) & 0x7fffffff;
    let headers: Record<string, string>;
    try {
      headers = this.inflater.inflate(data.subarray(10));
    } catch {
      this.send(rstStreamFrame(id, RST_PROTOCOL_ERROR));
      return;
    }
    const type = headers.streamtype;
    const port = Number(headers.port);
    if ((type !== "data" && type !== "error") || !(port > 0 && port < 65536)) {
      this.send(rstStreamFrame(id, RST_PROTOCOL_ERROR));
      return;
    }
    if (this.streams.size >= MAX_STREAMS_PER_CONNECTION) {
      this.send(rstStreamFrame(id, RST_REFUSED_STREAM));
      return;
    }
    const stream: Stream = { id, type, port, requestId: headers.requestid ?? String(port) };
    this.streams.set(id, stream);
    const reply = Buffer.alloc(4);
    reply.writeUInt32BE(id);
    const block = await this.deflater.compress({});
    this.send(controlFrame(SYN_REPLY, 0, Buffer.concat([reply, block])));
    const forward = this.forwards.get(stream.requestId) ?? {};
    forward[type] = stream;
    this.forwards.set(stream.requestId, forward);
    if (forward.data && forward.error && !forward.socket) this.dial(forward, forward.data);
  }

  private dial(forward: Forward, data: Stream): void {
    const socket = connect({ host: this.podIP, port: data.port });
    forward.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      for (let at = 0; at < chunk.length; at += DATA_CHUNK_BYTES)
        this.send(dataFrame(data.id, 0, chunk.subarray(at, at + DATA_CHUNK_BYTES)));
      if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
        socket.pause();
        this.send(Buffer.alloc(0), () => socket.resume());
      }
    });
    socket.on("end", () => this.send(dataFrame(data.id, FLAG_FIN, Buffer.alloc(0))));
    socket.on("error", (error) => {
      const errorStream = forward.error;
      if (errorStream)
        this.send(
          dataFrame(
            errorStream.id,
            FLAG_FIN,
            Buffer.from(
              `error forwarding port ${data.port} to pod ${this.podName}: ${error.message}`,
            ),
          ),
        );
      this.send(dataFrame(data.id, FLAG_FIN, Buffer.alloc(0)));
    });
  }

  private data(streamId: number, flags: number, bytes: Buffer): void {
    const stream = this.streams.get(streamId);
    if (stream === undefined || stream.type !== "data") return;
    const socket = this.forwards.get(stream.requestId)?.socket;
    if (socket === undefined) return;
    if (bytes.length > 0) socket.write(bytes);
    if ((flags & FLAG_FIN) !== 0) socket.end();
  }

  private reset(streamId: number): void {
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    this.streams.delete(streamId);
    const forward = this.forwards.get(stream.requestId);
    forward?.socket?.destroy();
    this.forwards.delete(stream.requestId);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const forward of this.forwards.values()) forward.socket?.destroy();
    this.forwards.clear();
    this.streams.clear();
    this.deflater.close();
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(1000);
    this.onClose();
  }
}

export class PodPortForwardServer {
  private readonly connections = new Set<PortForwardConnection>();
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_SPDY_FRAME_BYTES + 8,
    handleProtocols: (offered) => (offered.has(PROTOCOL_TOKEN) ? PORT_FORWARD_PROTOCOL : false),
  });

  constructor(private readonly deps: { store: ObjectStore; logger: Logger }) {}

  static serves(path: string): boolean {
    return PATH.test(path);
  }

  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    let pod: { ip: string; name: string };
    try {
      pod = await this.admit(req);
    } catch (error) {
      refuse(
        socket,
        error instanceof ApiError ? error.status : badRequestStatus((error as Error).message),
      );
      return;
    }
    // `ws` takes only RFC 7230 tokens as subprotocols, and this one has a "/": it is offered
    // to `ws` under a token and answered under its own name (admit checked it was offered)
    req.headers["sec-websocket-protocol"] = PROTOCOL_TOKEN;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = new PortForwardConnection(ws, pod.ip, pod.name, () =>
        this.connections.delete(connection),
      );
      this.connections.add(connection);
    });
  }

  private async admit(req: IncomingMessage): Promise<{ ip: string; name: string }> {
    const url = new URL(req.url ?? "/", "http://apiserver");
    const match = PATH.exec(url.pathname);
    if (match === null || PODS === undefined) throw new Error("not a pods/portforward path");
    const offered = String(req.headers["sec-websocket-protocol"] ?? "");
    if (
      (req.headers.upgrade ?? "").toLowerCase() !== "websocket" ||
      !offered.split(",").some((p) => p.trim() === PORT_FORWARD_PROTOCOL)
    )
      throw new ApiError(
        badRequestStatus(
          `Upgrade request required: this server forwards ports over WebSocket (${PORT_FORWARD_PROTOCOL}) only`,
        ),
      );
    if (this.connections.size >= MAX_PORT_FORWARD_CONNECTIONS)
      throw new ApiError(tooManyRequestsStatus("too many port-forward connections", 1));
    const name = decodeURIComponent(match[2] ?? "");
    const object = (
      await readObject(this.deps.store, {
        resource: PODS,
        namespace: decodeURIComponent(match[1] ?? ""),
        name,
        subresource: null,
        verb: "get",
      })
    ).object;
    const status = asObject(object.status);
    if (asString(status.phase) !== "Running" || asString(status.podIP) === "")
      throw new ApiError(
        badRequestStatus(
          `pod ${name} is not running (phase ${asString(status.phase) || "Pending"})`,
        ),
      );
    return { ip: asString(status.podIP), name };
  }

  stop(): void {
    for (const connection of [...this.connections]) connection.close();
    this.wss.close();
  }
}
