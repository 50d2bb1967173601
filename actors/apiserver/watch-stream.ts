/**
 * A watch over HTTP: the watch pump's events (watch-pump.ts) as a chunked stream of JSON watch
 * events, one per line (what client-go's StreamWatcher reads), as Table rows when the client
 * asked for `as=Table`. The stream ends when the pump does; a stream's end is how an HTTP client
 * learns that a watch is over, as it is when kube-apiserver's cacher closes a watcher.
 *
 * Events written in one turn of the event loop leave in one write (the response is corked until
 * the next tick): a busy watch costs one TLS record and one syscall per turn, not per event.
 */

import type { ApiWatchEvent } from "../api/api-protocol.ts";
import { buildTable } from "../api/table.ts";
import type { Clock } from "../system/clock.ts";
import { toJson } from "./cache-index.ts";
import { type ResourceHandler, wantsTable } from "./resource-handler.ts";
import type { RequestInput } from "./rest-request.ts";
import type { WatchSink } from "./watch-pump.ts";

/** Kubernetes' default watch timeout is 30–60 min; kubectl sets its own. */
const DEFAULT_WATCH_TIMEOUT_S = 1800;
/**
 * A client that lets this much pile up unread is dropped (it re-watches from its last
 * resourceVersion), as kube-apiserver's cacher drops watchers that cannot keep up.
 */
export const MAX_WATCH_BUFFERED_BYTES = 16 * 1024 * 1024;

/** The response side of a watch stream: the part of a ServerResponse it writes to. */
export interface WatchResponse {
  readonly headersSent: boolean;
  readonly writableLength: number;
  writeHead(code: number, headers: Record<string, string>): unknown;
  flushHeaders(): void;
  cork(): void;
  uncork(): void;
  write(chunk: string): boolean;
  end(): unknown;
}

/** Writes watch events to an HTTP response as newline-delimited JSON. */
export class WatchStreamSink implements WatchSink {
  private corked = false;
  private ended = false;

  constructor(
    private readonly res: WatchResponse,
    private readonly clock: Clock,
    private readonly kind: string,
    private readonly table: boolean,
  ) {}

  /** Sends the headers if no event has yet: the client sees its watch open. */
  open(): void {
    if (this.ended || this.res.headersSent) return;
    this.res.writeHead(200, {
      "content-type": "application/json",
      "transfer-encoding": "chunked",
      "cache-control": "no-cache, private",
    });
    this.res.flushHeaders();
  }

  send(event: ApiWatchEvent): boolean {
    if (this.ended) return false;
    this.open();
    const object =
      this.table && event.type !== "BOOKMARK" && event.type !== "ERROR"
        ? buildTable(this.kind, [event.object], {
            nowMs: this.clock.wallMs(),
            includeObject: "Metadata",
          })
        : event.object;
    if (!this.corked) {
      this.corked = true;
      this.res.cork();
      process.nextTick(this.uncork);
    }
    this.res.write(`{"type":${JSON.stringify(event.type)},"object":${toJson(object)}}\n`);
    return this.res.writableLength <= MAX_WATCH_BUFFERED_BYTES;
  }

  closed(): void {
    if (this.ended) return;
    this.open();
    this.ended = true;
    this.res.end();
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.res.uncork();
  };
}

/**
 * Serves a watch request on `res` until the watch ends; `onClose` registers how the server ends
 * it early (the client went away, the server stops).
 */
export async function serveWatch(
  handler: ResourceHandler,
  clock: Clock,
  input: RequestInput,
  res: WatchResponse,
  onClose: (end: () => void) => () => void,
): Promise<void> {
  await handler.authorizeWatch(input.request, input.user);
  const options = {
    ...input.options,
    timeoutSeconds: input.options.timeoutSeconds ?? DEFAULT_WATCH_TIMEOUT_S,
  };
  const sink = new WatchStreamSink(
    res,
    clock,
    input.request.resource.kind,
    wantsTable(input.accept),
  );
  const pump = handler.openWatch(input.request, options, sink);
  const unregister = onClose(() => pump.end());
  try {
    await pump.start();
    sink.open();
  } catch (error) {
    unregister();
    throw error;
  }
}
