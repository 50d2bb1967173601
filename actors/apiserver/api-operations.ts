/**
 * The API server's operations for the `apiserver` actor: each message becomes the same
 * `RequestInput` an HTTP request becomes and goes through the same `ResourceHandler` (object
 * store, lifecycle, validation, patching), so a component talking actor messages sees exactly
 * what kubectl sees. Watches pump store watch responses, mapped to Kubernetes watch events the
 * HTTP watch's way, to the subscriber as `api.watch.event` tells.
 */

import type { StoreClient, WatchHandle } from "../../raft/client/store-client.ts";
import {
  API_ACTOR,
  API_WATCH_EVENT_KIND,
  type ApiReply,
  type ApiWatchEvent,
  type ApiWatchMessage,
  type CreateRequest,
  type DeleteRequest,
  type GetRequest,
  type ListRequest,
  type PatchRequest,
  type PatchType,
  type ResourceScope,
  type UpdateRequest,
  type WatchRequest,
} from "../api/api-protocol.ts";
import { asObject, isJsonObject, type JsonObject, type JsonValue } from "../api/json.ts";
import { apiVersionOf, type ResourceInfo, resourceByPlural } from "../api/resources.ts";
import {
  badRequestStatus,
  goneStatus,
  internalErrorStatus,
  notFoundStatus,
  type Status,
  serviceUnavailableStatus,
  tooManyRequestsStatus,
} from "../api/status.ts";
import { ApiError } from "../client/errors.ts";
import type { ActorSystem } from "../system/actor-system.ts";
import type { TimerId } from "../system/clock.ts";
import { cachedJson } from "./cache-index.ts";
import type { InternalApiPort } from "./internal-api.ts";
import { objectFilter, parseListOptions } from "./list-options.ts";
import { ObjectStore } from "./object-store.ts";
import { collectionPrefix, objectKey } from "./registry-keys.ts";
import type { RequestVerb } from "./request-info.ts";
import { type RequestInput, ResourceHandler } from "./resource-handler.ts";
import type { WatchCache } from "./watch-cache.ts";
import { triggerOf } from "./watch-cache.ts";
import { bookmarkEvent, toApiWatchEvent } from "./watch-events.ts";

/** Watches one server's apiserver actor serves at once. */
export const MAX_API_WATCHES = 10_000;
/** How often a watch that asked for bookmarks gets one (Kubernetes: about a minute). */
export const DEFAULT_BOOKMARK_INTERVAL_MS = 5_000;

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json",
  json: "application/json-patch+json",
};

/** `configmaps`, `deployments.apps`: the resource a message names. */
export function resolveScopeResource(resource: string): ResourceInfo {
  const dot = resource.indexOf(".");
  const r =
    dot < 0
      ? resourceByPlural(resource)
      : resourceByPlural(resource.slice(0, dot), resource.slice(dot + 1));
  if (r === undefined)
    throw new ApiError({
      ...notFoundStatus({ group: "", resource }, ""),
      message: `the server could not find the requested resource (${resource})`,
    });
  return r;
}

/** A thrown error as the Status the HTTP server would have answered with. */
export function statusOf(error: unknown): Status {
  if (error instanceof ApiError) return error.status;
  const message = (error as Error)?.message ?? String(error);
  return /store unavailable/.test(message)
    ? serviceUnavailableStatus(message)
    : internalErrorStatus(message);
}

interface ServedWatch {
  handle: WatchHandle | null;
  timer: TimerId | null;
  ended: boolean;
  end(): void;
}

export interface ApiOperationsOptions {
  system: ActorSystem;
  /** A store client per request (the server's pool). */
  client: () => StoreClient;
  /** Serves GETs and first LIST pages when live. */
  cache?: WatchCache;
  /** Store sessions for kube-system Lease writes (leader election). */
  electionClient?: () => StoreClient;
  bookmarkIntervalMs?: number;
}

export class ApiOperations implements InternalApiPort {
  private readonly store: ObjectStore;
  private readonly handler: ResourceHandler;
  private readonly system: ActorSystem;
  private readonly bookmarkIntervalMs: number;
  private readonly watches = new Map<string, ServedWatch>();

  constructor(options: ApiOperationsOptions) {
    this.system = options.system;
    this.store = new ObjectStore(options.client, options.cache, options.electionClient);
    this.handler = new ResourceHandler(this.store, options.system.clock);
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? DEFAULT_BOOKMARK_INTERVAL_MS;
  }

  get(request: GetRequest): Promise<ApiReply> {
    return this.run(request, "get", request.name, {
      query: { resourceVersion: request.resourceVersion },
    });
  }

  list(request: ListRequest): Promise<ApiReply> {
    return this.run(request, "list", null, {
      query: {
        labelSelector: request.labelSelector,
        fieldSelector: request.fieldSelector,
        resourceVersion: request.resourceVersion,
        resourceVersionMatch: request.resourceVersionMatch,
        limit: request.limit === undefined ? undefined : String(request.limit),
        continue: request.continue,
      },
    });
  }

  create(request: CreateRequest): Promise<ApiReply> {
    // A subresource create (pods/binding) names its parent: the body's metadata.name.
    const sub = request.subresource ?? null;
    const name = sub === null ? null : String(asObject(request.object.metadata).name ?? "");
    return this.run(request, "create", name, {
      namespace: namespaceOf(request),
      body: request.object,
      subresource: sub,
      query: {
        dryRun: request.dryRun ? "All" : undefined,
        fieldValidation: request.fieldValidation,
      },
    });
  }

  update(request: UpdateRequest): Promise<ApiReply> {
    const name = String(asObject(asObject(request.object).metadata).name ?? "");
    return this.run(request, "update", name, {
      namespace: namespaceOf(request),
      body: request.object,
      subresource: request.subresource ?? null,
    });
  }

  patch(request: PatchRequest): Promise<ApiReply> {
    return this.run(request, "patch", request.name, {
      body: request.patch as JsonValue,
      contentType: PATCH_CONTENT_TYPES[request.patchType] ?? String(request.patchType),
      subresource: request.subresource ?? null,
    });
  }

  delete(request: DeleteRequest): Promise<ApiReply> {
    return this.run(request, "delete", request.name, {
      body: {
        ...(request.preconditions ? { preconditions: request.preconditions } : {}),
        ...(request.gracePeriodSeconds !== undefined
          ? { gracePeriodSeconds: request.gracePeriodSeconds }
          : {}),
        ...(request.propagationPolicy !== undefined
          ? { propagationPolicy: request.propagationPolicy }
          : {}),
      },
    });
  }

  /** One REST verb through the HTTP path's handler; an ApiError becomes `{ok: false, status}`. */
  private async run(
    scope: ResourceScope,
    verb: RequestVerb,
    name: string | null,
    extra: {
      namespace?: string | null;
      query?: Record<string, string | undefined>;
      body?: JsonValue;
      contentType?: string;
      subresource?: string | null;
    },
  ): Promise<ApiReply> {
    try {
      const r = resolveScopeResource(scope.resource);
      const query = new URLSearchParams();
      for (const [k, v] of Object.entries(extra.query ?? {}))
        if (v !== undefined && v !== "") query.set(k, v);
      const input: RequestInput = {
        request: {
          resource: r,
          namespace: r.namespaced ? (extra.namespace ?? scope.namespace ?? null) : null,
          name,
          subresource: extra.subresource ?? null,
          verb,
        },
        query,
        accept: undefined,
        contentType: extra.contentType ?? "application/json",
        body: async () => extra.body ?? null,
      };
      const result = await this.handler.handle(input);
      return { ok: true, object: result.body as JsonObject };
    } catch (error) {
      return { ok: false, status: statusOf(error) };
    }
  }

  // ---- watches ---------------------------------------------------------------------------------

  async watch(subscriber: string, tag: string, request: WatchRequest): Promise<Status | null> {
    const key = `${subscriber}#${tag}`;
    if (this.watches.has(key)) return badRequestStatus(`watch ${tag} already exists`);
    if (this.watches.size >= MAX_API_WATCHES)
      return tooManyRequestsStatus(`too many watches on ${this.system.nodeId}`, 1);
    let r: ResourceInfo;
    let options: ReturnType<typeof parseListOptions>;
    try {
      r = resolveScopeResource(request.resource);
      if (!r.verbs.includes("watch")) throw new ApiError(badRequestStatus("watch not supported"));
      const q = new URLSearchParams();
      if (request.labelSelector) q.set("labelSelector", request.labelSelector);
      if (request.fieldSelector) q.set("fieldSelector", request.fieldSelector);
      if (request.resourceVersion) q.set("resourceVersion", request.resourceVersion);
      options = parseListOptions(r, q);
    } catch (error) {
      return statusOf(error);
    }
    const namespace = r.namespaced ? (request.namespace ?? null) : null;
    const name = request.name ?? null;
    const prefix = name !== null ? objectKey(r, namespace, name) : collectionPrefix(r, namespace);
    const filter = objectFilter(r, options);
    const apiVersion = apiVersionOf(r);
    const from = this.system.address(API_ACTOR);
    const clock = this.system.clock;
    let lastRevision = 0;
    const watch: ServedWatch = {
      handle: null,
      timer: null,
      ended: false,
      end: () => {
        if (watch.ended) return;
        watch.ended = true;
        watch.handle?.cancel();
        if (watch.timer !== null) clock.clearTimeout(watch.timer);
        if (this.watches.get(key) === watch) this.watches.delete(key);
      },
    };
    this.watches.set(key, watch);
    const send = (event: ApiWatchEvent) => {
      if (watch.ended) return;
      // a cached object travels as its JSON text, made once for all of its watchers
      const json =
        event.type === "BOOKMARK" || event.type === "ERROR" ? undefined : cachedJson(event.object);
      const body: ApiWatchMessage = {
        tag,
        event: json === undefined ? event : { type: event.type, json },
      };
      // the subscriber is gone (its node left the mesh): nobody will cancel this watch
      if (!this.system.tell(from, subscriber, API_WATCH_EVENT_KIND, body).ok) watch.end();
    };
    const fail = (status: Status) => {
      send({ type: "ERROR", object: status as unknown as JsonObject });
      watch.end();
    };
    try {
      let startRevision: number;
      if (options.resourceVersion === "" || options.resourceVersion === "0") {
        // "Get State and Start at Most Recent", as the HTTP watch does
        const page = await this.store.list(prefix, {
          serializable: options.resourceVersion === "0",
        });
        for (const obj of page.items) if (filter(obj)) send({ type: "ADDED", object: obj });
        startRevision = page.revision + 1;
        if (request.allowWatchBookmarks && request.sendInitialEvents) {
          const b = bookmarkEvent(apiVersion, r.kind, page.revision);
          const meta = asObject(b.object.metadata);
          b.object.metadata = { ...meta, annotations: { "k8s.io/initial-events-end": "true" } };
          send(b);
        }
      } else {
        startRevision = Number(options.resourceVersion) + 1;
      }
      lastRevision = startRevision - 1;
      if (watch.ended) return null;
      const single = name !== null;
      const handle = await this.store.watch(
        prefix,
        startRevision,
        (response) => {
          if (response.kind === "changes") {
            for (const change of response.changes) {
              if (single && change.key !== prefix) continue;
              lastRevision = Math.max(lastRevision, change.revision);
              const out = toApiWatchEvent(change, filter);
              if (out) send(out);
            }
          } else if (response.kind === "progress") {
            // asked for by the bookmark tick below: everything up to the store's revision is read
            lastRevision = Math.max(lastRevision, response.revision);
            if (request.allowWatchBookmarks) send(bookmarkEvent(apiVersion, r.kind, lastRevision));
          } else if (response.kind === "canceled") {
            fail(
              response.reason === "compacted"
                ? goneStatus(
                    `too old resource version: ${startRevision - 1} (${response.compactRevision ?? 0})`,
                  )
                : internalErrorStatus(`watch canceled: ${response.reason}`),
            );
          }
        },
        triggerOf(options.fieldSelector),
      );
      watch.handle = handle;
      if (watch.ended) handle.cancel();
      else if (request.allowWatchBookmarks) {
        const tick = () => {
          watch.timer = null;
          if (watch.ended) return;
          handle.requestProgress();
          watch.timer = clock.setTimeout(tick, this.bookmarkIntervalMs);
        };
        watch.timer = clock.setTimeout(tick, this.bookmarkIntervalMs);
      }
      return null;
    } catch (error) {
      watch.end();
      return statusOf(error);
    }
  }

  cancelWatch(subscriber: string, tag: string): boolean {
    const watch = this.watches.get(`${subscriber}#${tag}`);
    watch?.end();
    return watch !== undefined;
  }

  hasWatch(subscriber: string, tag: string): boolean {
    return this.watches.has(`${subscriber}#${tag}`);
  }

  /** Ends every watch (the node is stopping). */
  stop(): void {
    for (const watch of [...this.watches.values()]) watch.end();
  }
}

function namespaceOf(request: ResourceScope & { object: JsonObject }): string | null {
  if (request.namespace !== undefined && request.namespace !== null) return request.namespace;
  const meta = isJsonObject(request.object.metadata) ? request.object.metadata : {};
  return typeof meta.namespace === "string" && meta.namespace !== "" ? meta.namespace : null;
}
