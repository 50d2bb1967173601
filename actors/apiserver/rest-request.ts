/**
 * A request to the REST handler and its answer, as both the HTTP server and the internal API
 * hand it over: the resource and verb (request-info.ts), the typed options (request-options.ts),
 * and the body, decoded on demand.
 */
import type { JsonValue } from "../api/json.ts";
import type { UserInfo } from "../api/user-info.ts";
import type { ResourceRequest } from "./request-info.ts";
import type { RequestOptions } from "./request-options.ts";

export interface RequestInput {
  request: ResourceRequest;
  options: RequestOptions;
  /** The Accept header (Table output), when the request came over HTTP. */
  accept: string | undefined;
  contentType: string;
  body: () => Promise<JsonValue>;
  /** Who asks, as authentication found them; absent only where authorization is off (unit tests). */
  user?: UserInfo;
}

export interface HandlerResult {
  code: number;
  body: unknown;
  /** Sent as text/plain instead of JSON (pods/log). */
  text?: string;
  /** After `text`, more of it as it comes (a followed pods/log): a chunked response. */
  stream?: (sink: TextSink) => Promise<void>;
  /** `Warning` headers (fieldValidation=Warn findings). */
  warnings?: string[];
}

/**
 * Where a streamed answer's chunks go (a followed pods/log): `write` resolves once the client
 * has taken them.
 */
export interface TextSink {
  write(text: string): Promise<void>;
  /** Aborted when the client disconnects or the server stops. */
  signal: AbortSignal;
}
