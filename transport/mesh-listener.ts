/**
 * One port, two protocols: a node's mesh port serves TLS (the mesh, and HTTPS) and plain HTTP
 * (`/healthz`, `/metrics`, the join-certificate exchange that gives a new node its first
 * certificate). The first byte decides: a TLS record starts with content type 22 (handshake,
 * RFC 8446 §5.1), an HTTP request with a method's letter. A plaintext mesh upgrade reaches the
 * HTTP side and is refused there (mesh.ts), with a logged reason.
 */
import type { Server as HttpServer } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import type { Server as TlsServer } from "node:tls";

const TLS_CONTENT_TYPE_HANDSHAKE = 0x16;

/**
 * `firstByteTimeoutMs`: a connection that says nothing is closed (a silent socket would
 * otherwise be held by neither server's timeouts).
 */
export function createMeshListener(
  http: HttpServer,
  tls: TlsServer,
  firstByteTimeoutMs: number,
): Server {
  return createServer((socket: Socket) => {
    const drop = () => socket.destroy();
    socket.setTimeout(firstByteTimeoutMs);
    socket.on("timeout", drop);
    socket.once("error", drop);
    socket.once("data", (chunk: Buffer) => {
      socket.setTimeout(0);
      socket.off("timeout", drop);
      socket.off("error", drop);
      socket.pause();
      socket.unshift(chunk);
      if (chunk[0] === TLS_CONTENT_TYPE_HANDSHAKE) {
        // the TLS socket reads the chunk back from the stream on its own
        tls.emit("connection", socket);
        return;
      }
      http.emit("connection", socket);
      // http's parser reads only a flowing socket: without this the unshifted request waits
      socket.resume();
    });
  });
}
