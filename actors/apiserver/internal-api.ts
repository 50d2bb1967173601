/**
 * The `apiserver` actor on every server (DESIGN §6): the Kubernetes API spoken as actor messages
 * over the transport, for bosun's own components (controllers, scheduler, kubelet). The same
 * operations as the REST API, served by the same object store, lifecycle and validation code
 * (`ApiOperations`), so that behaviour is identical; errors are the same `Status` objects.
 *
 *   api.get     {resource, namespace?, name, resourceVersion?}                       → ApiReply
 *   api.list    {resource, namespace?, labelSelector?, fieldSelector?, resourceVersion?,
 *                resourceVersionMatch?, limit?, continue?}                            → ApiReply
 *   api.create  {resource, namespace?, object, subresource?, dryRun?, fieldValidation?} → ApiReply
 *   api.update  {resource, namespace?, object, subresource?}                         → ApiReply
 *   api.patch   {resource, namespace?, name, patchType, patch, subresource?}         → ApiReply
 *   api.delete  {resource, namespace?, name, preconditions?, gracePeriodSeconds?,
 *                propagationPolicy?}                                                 → ApiReply
 *   api.watch   {resource, namespace?, name?, selectors, resourceVersion?, tag,
 *                allowWatchBookmarks?, sendInitialEvents?}  → {tag, status?}, then `api.watch.event`
 *                {tag, event} tells to the asker; the last event of a watch that ends is an
 *                ERROR carrying a Status (410 Gone after compaction)
 *   api.watch.cancel {tag}                                                           → {canceled}
 *   api.watch.check  {tag}                                                           → {alive}
 *
 * `resource` is a plural, `plural.group` for the named groups (`deployments.apps`). An ApiReply
 * is `{ok: true, object}` or `{ok: false, status}`: a Status is an answer, not a transport
 * failure, so that the caller can tell a 409 from a lost server.
 *
 * The machine only routes: `serving` until the node stops; the port does the work.
 */
import { setup } from "xstate";
import type { JsonObject } from "../api/json.ts";
import type { Status } from "../api/status.ts";
import { type ActorMessage, answerAsk } from "../system/message.ts";
import type { PropagationPolicy } from "./delete-options.ts";
import type { ApiWatchEvent } from "./watch-events.ts";

export const API_ACTOR = "apiserver";
export const API_WATCH_EVENT_KIND = "api.watch.event";

export type PatchType = "merge" | "strategic" | "json";

export interface ResourceScope {
  /** A plural (`configmaps`), or `plural.group` (`deployments.apps`). */
  resource: string;
  /** For namespaced resources; absent on list/watch = all namespaces. */
  namespace?: string | null;
}

export interface GetRequest extends ResourceScope {
  name: string;
  /** "" (default) = linearizable; "0" = this server's local state. */
  resourceVersion?: string;
}

export interface ListRequest extends ResourceScope {
  labelSelector?: string;
  fieldSelector?: string;
  /** "" = linearizable, "0" = local, N with resourceVersionMatch=Exact = at revision N. */
  resourceVersion?: string;
  resourceVersionMatch?: string;
  limit?: number;
  continue?: string;
}

export interface CreateRequest extends ResourceScope {
  object: JsonObject;
  /** `binding` (pods/binding): the object's metadata.name names the parent. */
  subresource?: string | null;
  dryRun?: boolean;
  fieldValidation?: "Strict" | "Warn" | "Ignore";
}

export interface UpdateRequest extends ResourceScope {
  object: JsonObject;
  subresource?: string | null;
}

export interface PatchRequest extends ResourceScope {
  name: string;
  patchType: PatchType;
  patch: unknown;
  subresource?: string | null;
}

export interface DeleteRequest extends ResourceScope {
  name: string;
  preconditions?: { resourceVersion?: string; uid?: string };
  /** 0 deletes at once (a kubelet's final delete); absent: the object's own grace period. */
  gracePeriodSeconds?: number;
  /** Absent: Background. */
  propagationPolicy?: PropagationPolicy;
}

export interface WatchRequest extends ResourceScope {
  name?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Exclusive start; "" or "0" = ADDED for every current object first. */
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  sendInitialEvents?: boolean;
}

export type ApiReply = { ok: true; object: JsonObject } | { ok: false; status: Status };

export interface ApiWatchMessage {
  tag: string;
  event: ApiWatchEvent | ApiWatchEventText;
}

/**
 * An object event as it travels: the object's JSON text from the watch cache, made once for
 * every watcher (kube-apiserver's cachingObject), instead of the object encoded per watcher.
 */
export interface ApiWatchEventText {
  type: ApiWatchEvent["type"];
  json: string;
}

/** The event a watch message carries, its object parsed if it came as text. */
export function watchEventOf(message: ApiWatchMessage): ApiWatchEvent {
  const event = message.event;
  if (!("json" in event)) return event;
  const object: unknown = JSON.parse(event.json);
  if (typeof object !== "object" || object === null || Array.isArray(object))
    throw new Error("a watch event's json is not an object");
  return { type: event.type, object: object as JsonObject };
}

/** What the actor needs from the server it runs on (ApiOperations in production). */
export interface InternalApiPort {
  get(request: GetRequest): Promise<ApiReply>;
  list(request: ListRequest): Promise<ApiReply>;
  create(request: CreateRequest): Promise<ApiReply>;
  update(request: UpdateRequest): Promise<ApiReply>;
  patch(request: PatchRequest): Promise<ApiReply>;
  delete(request: DeleteRequest): Promise<ApiReply>;
  /**
   * Starts a watch whose events go to `subscriber` as `api.watch.event` tells; a Status when it
   * cannot start (bad selector, unknown resource, too many watches).
   */
  watch(subscriber: string, tag: string, request: WatchRequest): Promise<Status | null>;
  cancelWatch(subscriber: string, tag: string): boolean;
  hasWatch(subscriber: string, tag: string): boolean;
}

export type InternalApiEvent =
  | ActorMessage<"api.get", GetRequest>
  | ActorMessage<"api.list", ListRequest>
  | ActorMessage<"api.create", CreateRequest>
  | ActorMessage<"api.update", UpdateRequest>
  | ActorMessage<"api.patch", PatchRequest>
  | ActorMessage<"api.delete", DeleteRequest>
  | ActorMessage<"api.watch", WatchRequest & { tag: string }>
  | ActorMessage<"api.watch.cancel", { tag: string }>
  | ActorMessage<"api.watch.check", { tag: string }>
  | { type: "api.stop" };

function isScope(body: unknown): body is ResourceScope {
  return (
    typeof body === "object" &&
    body !== null &&
    typeof (body as { resource?: unknown }).resource === "string"
  );
}

function needScope<T extends ResourceScope>(kind: string, body: unknown): T {
  if (!isScope(body)) throw new Error(`${kind} needs {resource: string, ...}`);
  return body as T;
}

function tagOf(kind: string, body: unknown): string {
  const tag = (body as { tag?: unknown } | null)?.tag;
  if (typeof tag !== "string") throw new Error(`${kind} needs {tag: string}`);
  return tag;
}

export const internalApiMachine = setup({
  types: {
    context: {} as { port: InternalApiPort },
    input: {} as { port: InternalApiPort },
    events: {} as InternalApiEvent,
  },
  actions: {
    serveGet: ({ context, event }) => {
      if (event.type === "api.get")
        answerAsk(event, () => context.port.get(needScope(event.type, event.body)));
    },
    serveList: ({ context, event }) => {
      if (event.type === "api.list")
        answerAsk(event, () => context.port.list(needScope(event.type, event.body)));
    },
    serveCreate: ({ context, event }) => {
      if (event.type === "api.create")
        answerAsk(event, () => context.port.create(needScope(event.type, event.body)));
    },
    serveUpdate: ({ context, event }) => {
      if (event.type === "api.update")
        answerAsk(event, () => context.port.update(needScope(event.type, event.body)));
    },
    servePatch: ({ context, event }) => {
      if (event.type === "api.patch")
        answerAsk(event, () => context.port.patch(needScope(event.type, event.body)));
    },
    serveDelete: ({ context, event }) => {
      if (event.type === "api.delete")
        answerAsk(event, () => context.port.delete(needScope(event.type, event.body)));
    },
    startWatch: ({ context, event }) => {
      if (event.type !== "api.watch") return;
      answerAsk(event, async () => {
        const request = needScope<WatchRequest>(event.type, event.body);
        const tag = tagOf(event.type, event.body);
        const status = await context.port.watch(event.from, tag, request);
        return status === null ? { tag } : { tag, status };
      });
    },
    cancelWatch: ({ context, event }) => {
      if (event.type !== "api.watch.cancel") return;
      answerAsk(event, () => ({
        canceled: context.port.cancelWatch(event.from, tagOf(event.type, event.body)),
      }));
    },
    checkWatch: ({ context, event }) => {
      if (event.type !== "api.watch.check") return;
      answerAsk(event, () => ({
        alive: context.port.hasWatch(event.from, tagOf(event.type, event.body)),
      }));
    },
  },
}).createMachine({
  id: "apiserver",
  context: ({ input }) => ({ port: input.port }),
  initial: "serving",
  states: {
    serving: {
      on: {
        "api.get": { actions: "serveGet" },
        "api.list": { actions: "serveList" },
        "api.create": { actions: "serveCreate" },
        "api.update": { actions: "serveUpdate" },
        "api.patch": { actions: "servePatch" },
        "api.delete": { actions: "serveDelete" },
        "api.watch": { actions: "startWatch" },
        "api.watch.cancel": { actions: "cancelWatch" },
        "api.watch.check": { actions: "checkWatch" },
        "api.stop": { target: "stopped" },
      },
    },
    stopped: { type: "final" },
  },
});
