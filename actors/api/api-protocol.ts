/**
 * The internal API's protocol (DESIGN §6): the Kubernetes API spoken as actor messages over the
 * transport between bosun's own components (the client in `actors/client`) and the `apiserver`
 * actor on every server. The same operations as the REST API; errors are the same `Status`
 * objects.
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
 *                allowWatchBookmarks?, sendInitialEvents?, resourceVersionMatch?}
 *                                                      → {tag, status?}, then `api.watch.event`
 *                {tag, event} tells to the asker; the last event of a watch that ends is an
 *                ERROR carrying a Status (410 Expired after compaction)
 *   api.watch.cancel {tag}                                                           → {canceled}
 *   api.watch.check  {tag}                                                           → {alive}
 *   api.watch.check  {tags} (at most MAX_WATCH_CHECK_TAGS)                  → {alive: boolean[]}
 *                a client checks all its watches on one server in one ask, not one ask each
 *
 * Every request may carry `user` (a UserInfo): the identity the calling component declares
 * (`system:node:n1`, `system:kube-scheduler`), which the server authorizes it as. The mesh
 * authenticates only the calling node today (the join token), so the declaration is trusted
 * from any meshed node; see `meshCaller` in actors/apiserver/api-operations.ts for where a mesh
 * certificate will bind it. A request without one is a join-token holder's: `system:masters`.
 *
 * `resource` is a plural, `plural.group` for the named groups (`deployments.apps`). An ApiReply
 * is `{ok: true, object}` or `{ok: false, status}`: a Status is an answer, not a transport
 * failure, so that the caller can tell a 409 from a lost server.
 */
import type { JsonObject } from "./json.ts";
import type { Status } from "./status.ts";
import type { UserInfo } from "./user-info.ts";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

/** A Kubernetes watch event (`metav1.WatchEvent`), as the REST watch streams it. */
export interface ApiWatchEvent {
  type: WatchEventType;
  object: JsonObject;
}

export const PROPAGATION_POLICIES = ["Foreground", "Background", "Orphan"] as const;
export type PropagationPolicy = (typeof PROPAGATION_POLICIES)[number];

export const API_ACTOR = "apiserver";
/** Watches one `api.watch.check` may ask about (a client with more asks in several). */
export const MAX_WATCH_CHECK_TAGS = 1_024;
export const API_WATCH_EVENT_KIND = "api.watch.event";

export type PatchType = "merge" | "strategic" | "json";

export interface ResourceScope {
  /** A plural (`configmaps`), or `plural.group` (`deployments.apps`). */
  resource: string;
  /** For namespaced resources; absent on list/watch = all namespaces. */
  namespace?: string | null;
  /** The identity the calling component declares (see the header). */
  user?: UserInfo;
}

export interface GetRequest extends ResourceScope {
  name: string;
  /** A subresource to read (`scale`). */
  subresource?: string | null;
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
  /**
   * ADDED for every current object first, whatever the resourceVersion (then at least as new as
   * it), ending with a BOOKMARK annotated `k8s.io/initial-events-end` when bookmarks are allowed;
   * false: none even for "" or "0". Needs `resourceVersionMatch: "NotOlderThan"`, as over HTTP.
   */
  sendInitialEvents?: boolean;
  resourceVersionMatch?: string;
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
