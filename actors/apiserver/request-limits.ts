/**
 * The API server's limits on what a client may send (STYLE: a named limit on everything that can
 * grow), and the checks that turn a request past them into a clean 4xx before it costs memory or
 * stack: a body over 3 MiB (413, refused from its Content-Length before a byte is read, or as soon
 * as the count passes the limit), bytes that are not UTF-8, JSON nested deeper than any object
 * needs (400), and a path whose percent-encoding does not decode (400). Slow clients are cut off
 * by Node's own header and request timeouts, set from here.
 */
import type { IncomingMessage, ServerOptions } from "node:http";
import type { JsonValue } from "../api/json.ts";
import { badRequestStatus, requestEntityTooLargeStatus } from "../api/status.ts";
import { ApiError } from "../client/errors.ts";

export interface RequestLimits {
  /** Kubernetes refuses request bodies over 3 MiB (apiserver's `MaxRequestBodyBytes`). */
  maxBodyBytes: number;
  /**
   * Deepest JSON (or YAML) a body may nest. 512: no Kubernetes object nests beyond a few dozen
   * levels (a CRD's openAPIV3Schema is the deepest at perhaps a hundred), while the recursive
   * code a body meets later (validation, merge, JSON.stringify, msgpack) overflows the stack at
   * some thousands. JSON.parse itself is iterative in V8, so the check runs after it.
   */
  maxJsonDepth: number;
  /**
   * Time a client has to send its request headers (Node's `headersTimeout`). 10 s: kubectl and
   * client-go send them in one write; a slowloris client that trickles them holds a socket for
   * no longer than this.
   */
  headersTimeoutMs: number;
  /**
   * Time a client has to send its whole request, body included (Node's `requestTimeout`; it does
   * not bound the response, so watches live on). 60 s: kube-apiserver's `--request-timeout`.
   */
  requestTimeoutMs: number;
  /**
   * How often Node checks the two timeouts above (its `connectionsCheckingInterval`). 1 s: the
   * timeouts then fire within a second of being due instead of Node's default 30 s.
   */
  timeoutCheckIntervalMs: number;
  /**
   * Largest request head (Node's `maxHeaderSize`; larger gets 431). 32 KiB: kubectl's heads are
   * well under 2 KiB; long label selectors in the URL still fit.
   */
  maxHeaderBytes: number;
}

export const DEFAULT_REQUEST_LIMITS: Readonly<RequestLimits> = Object.freeze({
  maxBodyBytes: 3 * 1024 * 1024,
  maxJsonDepth: 512,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  timeoutCheckIntervalMs: 1_000,
  maxHeaderBytes: 32 * 1024,
});

/** The `http.createServer` options that carry the limits Node enforces itself. */
export function serverOptions(limits: RequestLimits): ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: limits.timeoutCheckIntervalMs,
    maxHeaderSize: limits.maxHeaderBytes,
  };
}

function tooLarge(limits: RequestLimits): ApiError {
  return new ApiError(requestEntityTooLargeStatus(`limit is ${limits.maxBodyBytes}`));
}

/**
 * The body, refused with a 413 from its declared length or as soon as it grows past the limit:
 * at most `maxBodyBytes` is ever held. The server closes the connection after a 413
 * (`closesConnection`), so the rest of the body is never read either.
 */
export async function readLimitedBody(
  req: IncomingMessage,
  limits: RequestLimits,
): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > limits.maxBodyBytes) throw tooLarge(limits);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limits.maxBodyBytes) throw tooLarge(limits);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A 413 leaves a body unread: the connection goes, rather than Node reading it all to discard it. */
export function closesConnection(code: number | undefined): boolean {
  return code === 413;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The body as text; bytes that are not UTF-8 are a 400, never silently replaced. */
export function decodeUtf8(raw: Buffer): string {
  try {
    return utf8.decode(raw);
  } catch {
    throw new ApiError(badRequestStatus("the body of the request is not valid UTF-8"));
  }
}

/** A 400 when `value` nests deeper than the limit; iterative, so it cannot overflow itself. */
export function assertJsonDepth(value: JsonValue, limits: RequestLimits): void {
  const stack: [JsonValue, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [JsonValue, number];
    if (v === null || typeof v !== "object") continue;
    if (depth > limits.maxJsonDepth)
      throw new ApiError(
        badRequestStatus(`the body of the request nests deeper than ${limits.maxJsonDepth} levels`),
      );
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
}

/**
 * A 400 when a YAML text's flow collections (`[`, `{`) nest deeper than the limit, checked before
 * the YAML parser sees it: that parser recurses per level, and a 1.6 MB `[[[…]]]` makes it run out
 * of memory (a fatal error, not an exception). Brackets inside quoted scalars count too, which
 * only ever refuses a text no Kubernetes object is written as.
 */
export function assertYamlFlowDepth(text: string, limits: RequestLimits): void {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) {
      if (++depth > limits.maxJsonDepth)
        throw new ApiError(
          badRequestStatus(
            `the body of the request nests deeper than ${limits.maxJsonDepth} levels`,
          ),
        );
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--;
  }
}

/** The request target as a URL, or a 400 for one that does not parse or percent-decode. */
export function parseRequestUrl(req: IncomingMessage): URL {
  try {
    const url = new URL(req.url ?? "/", "http://apiserver");
    decodeURIComponent(url.pathname);
    return url;
  } catch {
    throw new ApiError(badRequestStatus(`malformed request URI ${JSON.stringify(req.url)}`));
  }
}
