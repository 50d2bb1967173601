/**
 * The `ws` WebSocket with one change: when ws itself closes a socket for bad framing (a frame
 * past `maxPayload`, a bad opcode, invalid UTF-8) it sends only a code; the peer — and whoever
 * reads its logs — deserves the reason too. ws offers exactly this extension point: the
 * `WebSocket` class option of WebSocketServer.
 */
import WebSocket from "ws";

/** Reasons for the close codes ws's receiver uses (RFC 6455 §7.4.1). */
function defaultReason(code: number | undefined, maxFrameBytes: number): string | undefined {
  switch (code) {
    case 1009:
      return `frame exceeds ${maxFrameBytes} bytes`;
    case 1007:
      return "invalid UTF-8 in text frame";
    case 1002:
      return "invalid WebSocket frame";
    default:
      return undefined;
  }
}

export type MeshSocketClass = typeof WebSocket;

/** A WebSocket class whose reason-less closes name their reason; `maxFrameBytes` for 1009. */
export function meshSocketClass(maxFrameBytes: number): MeshSocketClass {
  return class MeshSocket extends WebSocket {
    override close(code?: number, data?: string | Buffer): void {
      const missing = data === undefined || data.length === 0;
      super.close(code, missing ? (defaultReason(code, maxFrameBytes) ?? data) : data);
    }
  };
}
