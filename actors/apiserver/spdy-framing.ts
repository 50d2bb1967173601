/**
 * SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00 §2), the part Kubernetes' streams use: what
 * kubectl port-forward speaks inside its WebSocket tunnel (`SPDY/3.1+portforward.k8s.io`,
 * client-go's tunneling dialer: the WebSocket's binary messages carry the SPDY connection's
 * bytes). Pure: a parser that cuts a byte stream into frames, and frame builders.
 *
 *   control frame   1 | version (15) | type (16) | flags (8) | length (24) | data
 *   data frame      0 | stream id (31)           | flags (8) | length (24) | data
 *
 * Header blocks are zlib-compressed with one stream per direction for the whole connection,
 * primed with the spec's dictionary (SPDY_DICTIONARY): `HeaderInflater` keeps the inbound one.
 */
import { constants, createDeflate, inflateSync } from "node:zlib";

export const SPDY_VERSION = 3;
export const FLAG_FIN = 0x01;

export const SYN_STREAM = 1;
export const SYN_REPLY = 2;
export const RST_STREAM = 3;
export const SETTINGS = 4;
export const PING = 6;
export const GOAWAY = 7;
export const WINDOW_UPDATE = 9;

/** RST_STREAM status codes (§2.6.3) bosun sends. */
export const RST_PROTOCOL_ERROR = 1;
export const RST_REFUSED_STREAM = 3;

/** The largest frame accepted (SPDY's length field allows 16 MiB; nothing here needs more). */
export const MAX_SPDY_FRAME_BYTES = 1024 * 1024;
/** Compressed header bytes one connection may send in all (its streams are few and small). */
export const MAX_HEADER_BYTES_PER_CONNECTION = 256 * 1024;

export type SpdyFrame =
  | { control: true; type: number; flags: number; data: Buffer }
  | { control: false; streamId: number; flags: number; data: Buffer };

/** The header compression dictionary of SPDY/3 (§2.6.10.1): length-prefixed words, then text. */
export const SPDY_DICTIONARY: Buffer = (() => {
  const words = [
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
  ];
  const tail =
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505" +
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request" +
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented" +
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, " +
    "Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif," +
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=" +
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
  const parts: Buffer[] = [];
  for (const word of words) {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(word.length);
    parts.push(length, Buffer.from(word, "latin1"));
  }
  parts.push(Buffer.from(tail, "latin1"));
  return Buffer.concat(parts);
})();

export class SpdyProtocolError extends Error {}

/** Cuts a byte stream into frames; `push` returns the frames complete so far. */
export class SpdyParser {
  private pending: Buffer = Buffer.alloc(0);

  push(bytes: Buffer): SpdyFrame[] {
    this.pending = this.pending.length === 0 ? bytes : Buffer.concat([this.pending, bytes]);
    const frames: SpdyFrame[] = [];
    while (this.pending.length >= 8) {
      const length = this.pending.readUIntBE(5, 3);
      if (length > MAX_SPDY_FRAME_BYTES)
        throw new SpdyProtocolError(`frame of ${length} bytes (limit ${MAX_SPDY_FRAME_BYTES})`);
      if (this.pending.length < 8 + length) break;
      const first = this.pending.readUInt32BE(0);
      const flags = this.pending[4] ?? 0;
      const data = this.pending.subarray(8, 8 + length);
      if ((first & 0x80000000) !== 0) {
        const version = (first >>> 16) & 0x7fff;
        if (version !== SPDY_VERSION) throw new SpdyProtocolError(`SPDY version ${version}`);
        frames.push({ control: true, type: first & 0xffff, flags, data });
      } else {
        frames.push({ control: false, streamId: first & 0x7fffffff, flags, data });
      }
      this.pending = this.pending.subarray(8 + length);
    }
    return frames;
  }
}

function frameHeader(first: number, flags: number, length: number): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(first >>> 0, 0);
  header[4] = flags;
  header.writeUIntBE(length, 5, 3);
  return header;
}

export function controlFrame(type: number, flags: number, data: Buffer): Buffer {
  return Buffer.concat([
    frameHeader((0x8000 | SPDY_VERSION) * 0x10000 + type, flags, data.length),
    data,
  ]);
}

export function dataFrame(streamId: number, flags: number, data: Buffer): Buffer {
  return Buffer.concat([frameHeader(streamId & 0x7fffffff, flags, data.length), data]);
}

export function rstStreamFrame(streamId: number, status: number): Buffer {
  const data = Buffer.alloc(8);
  data.writeUInt32BE(streamId & 0x7fffffff, 0);
  data.writeUInt32BE(status, 4);
  return controlFrame(RST_STREAM, 0, data);
}

/** A name/value header block, uncompressed (§2.6.10): count, then length-prefixed pairs. */
export function encodeHeaderBlock(headers: Record<string, string>): Buffer {
  const entries = Object.entries(headers);
  const parts: Buffer[] = [Buffer.alloc(4)];
  parts[0]!.writeUInt32BE(entries.length);
  for (const [name, value] of entries) {
    for (const text of [name.toLowerCase(), value]) {
      const bytes = Buffer.from(text, "utf8");
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      parts.push(length, bytes);
    }
  }
  return Buffer.concat(parts);
}

export function decodeHeaderBlock(block: Buffer): Record<string, string> {
  const headers: Record<string, string> = {};
  let at = 0;
  const read = () => {
    if (at + 4 > block.length) throw new SpdyProtocolError("truncated header block");
    const length = block.readUInt32BE(at);
    at += 4;
    if (at + length > block.length) throw new SpdyProtocolError("truncated header block");
    const text = block.subarray(at, at + length).toString("utf8");
    at += length;
    return text;
  };
  const count = block.length >= 4 ? block.readUInt32BE(0) : 0;
  at = 4;
  for (let i = 0; i < count; i++) {
    const name = read();
    headers[name.toLowerCase()] = read().split("\0")[0] ?? "";
  }
  return headers;
}

/**
 * The inbound header compression stream. Each block continues the connection's one zlib
 * stream, ended by a sync flush; the blocks so far are inflated again from the start (they are
 * few and small, and bounded by MAX_HEADER_BYTES_PER_CONNECTION) and the new output is the
 * block's headers.
 */
export class HeaderInflater {
  private compressed: Buffer[] = [];
  private compressedBytes = 0;
  private inflatedBytes = 0;

  inflate(block: Buffer): Record<string, string> {
    this.compressedBytes += block.length;
    if (this.compressedBytes > MAX_HEADER_BYTES_PER_CONNECTION)
      throw new SpdyProtocolError("too many header bytes on one connection");
    this.compressed.push(block);
    const all = inflateSync(Buffer.concat(this.compressed), {
      dictionary: SPDY_DICTIONARY,
      finishFlush: constants.Z_SYNC_FLUSH,
    });
    const fresh = all.subarray(this.inflatedBytes);
    this.inflatedBytes = all.length;
    return decodeHeaderBlock(fresh);
  }
}

/** The outbound header compression stream: each block continues it, ended by a sync flush. */
export class HeaderDeflater {
  private readonly deflate = createDeflate({ dictionary: SPDY_DICTIONARY });
  private queue: Promise<unknown> = Promise.resolve();

  /** The compressed block, in call order. */
  compress(headers: Record<string, string>): Promise<Buffer> {
    const next = this.queue.then(
      () =>
        new Promise<Buffer>((resolve) => {
          const chunks: Buffer[] = [];
          const onData = (chunk: Buffer) => chunks.push(chunk);
          this.deflate.on("data", onData);
          this.deflate.write(encodeHeaderBlock(headers));
          this.deflate.flush(constants.Z_SYNC_FLUSH, () => {
            this.deflate.off("data", onData);
            resolve(Buffer.concat(chunks));
          });
        }),
    );
    this.queue = next;
    return next;
  }

  close(): void {
    this.deflate.close();
  }
}
