/**
 * The API server's operations for the `apiserver` actor: each message becomes the same
 * `RequestInput` an HTTP request becomes — its typed options passed as they are, never turned
 * into a query string — and goes through the server's one `ResourceHandler` (object store,
 * lifecycle, validation, patching), so a component talking actor messages sees exactly what
 * kubectl sees. A watch is the same watch pump the HTTP watch uses, with `api.watch.event`
 * tells to the subscriber as its sink.
 */

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
import { type ResourceInfo, resourceByPlural } from "../api/resources.ts";
import {
  badRequestStatus,
  forbiddenRequestStatus,
  internalErrorStatus,
  notFoundStatus,
  type Status,
  serviceUnavailableStatus,
  tooManyRequestsStatus,
} from "../api/status.ts";
import type { UserInfo } from "../api/user-info.ts";
import { ApiError } from "../client/errors.ts";
import type { ActorSystem } from "../system/actor-system.ts";
import { meshUser } from "./auth/mesh-identity.ts";
import { cachedJson } from "./cache-index.ts";
import type { InternalApiPort, MeshCaller } from "./internal-api.ts";
import type { RequestVerb } from "./request-info.ts";
import type { RequestOptions } from "./request-options.ts";
import type { ResourceHandler } from "./resource-handler.ts";
import type { RequestInput } from "./rest-request.ts";
import type { WatchPump, WatchSink } from "./watch-pump.ts";

/** Watches one server's apiserver actor serves at once. */
export const MAX_API_WATCHES = 10_000;

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

/**
 * The user a mesh request runs as (auth/mesh-identity.ts); a declaration its link's certificate
 * does not allow is a 403 on the resource asked for, as an authorizer's refusal would be.
 */
function authenticatedUser(caller: MeshCaller, r: ResourceInfo, name: string | null): UserInfo {
  const who = meshUser(caller);
  if (who.ok) return who.user;
  throw new ApiError(
    forbiddenRequestStatus({ group: r.group, resource: r.plural }, name ?? "", who.reason),
  );
}

/** A thrown error as the Status the HTTP server would have answered with. */
export function statusOf(error: unknown): Status {
  if (error instanceof ApiError) return error.status;
  const message = (error as Error)?.message ?? String(error);
  return /store unavailable/.test(message)
    ? serviceUnavailableStatus(message)
    : internalErrorStatus(message);
}

/**
 * A watch's events as `api.watch.event` tells to its subscriber. The internal protocol has no
 * stream to close, so a watch the server ends for a reason its events have not said is told
 * with a last ERROR event; a subscriber that cannot be reached (its node left the mesh) ends it.
 */
class WatchMessageSink implements WatchSink {
  constructor(
    private readonly system: ActorSystem,
    private readonly subscriber: string,
    private readonly tag: string,
    private readonly onClosed: () => void,
  ) {}

  send(event: ApiWatchEvent): boolean {
    // a cached object travels as its JSON text, made once for all of its watchers
    const json =
      event.type === "BOOKMARK" || event.type === "ERROR" ? undefined : cachedJson(event.object);
    const body: ApiWatchMessage = {
      tag: this.tag,
      event: json === undefined ? event : { type: event.type, json },
    };
    const from = this.system.address(API_ACTOR);
    return this.system.tell(from, this.subscriber, API_WATCH_EVENT_KIND, body).ok;
  }

  closed(error: Status | null): void {
    if (error !== null) this.send({ type: "ERROR", object: error as unknown as JsonObject });
    this.onClosed();
  }
}

export interface ApiOperationsOptions {
  system: ActorSystem;
  /** The server's one REST handler, shared with the HTTP server. */
  handler: ResourceHandler;
}

export class ApiOperations implements InternalApiPort {
  private readonly handler: ResourceHandler;
  private readonly system: ActorSystem;
  private readonly watches = new Map<string, WatchPump>();

  constructor(options: ApiOperationsOptions) {
    this.system = options.system;
    this.handler = options.handler;
  }

  get(request: GetRequest, caller: MeshCaller): Promise<ApiReply> {
    const options: RequestOptions = {};
    if (request.resourceVersion !== undefined) options.resourceVersion = request.resourceVersion;
    return this.run(
      request,
      "get",
      request.name,
      { options, subresource: request.subresource ?? null },
      caller,
    );
  }

  list(request: ListRequest, caller: MeshCaller): Promise<ApiReply> {
    const { resource: _r, namespace: _ns, user: _u, ...options } = request;
    return this.run(request, "list", null, { options }, caller);
  }

  create(request: CreateRequest, caller: MeshCaller): Promise<ApiReply> {
    // A subresource create (pods/binding) names its parent: the body's metadata.name.
    const sub = request.subresource ?? null;
    const name = sub === null ? null : String(asObject(request.object.metadata).name ?? "");
    const options: RequestOptions = {};
    if (request.dryRun) options.dryRun = ["All"];
    if (request.fieldValidation !== undefined) options.fieldValidation = request.fieldValidation;
    return this.run(
      request,
      "create",
      name,
      {
        namespace: namespaceOf(request),
        body: request.object,
        subresource: sub,
        options,
      },
      caller,
    );
  }

  update(request: UpdateRequest, caller: MeshCaller): Promise<ApiReply> {
    const name = String(asObject(asObject(request.object).metadata).name ?? "");
    return this.run(
      request,
      "update",
      name,
      {
        namespace: namespaceOf(request),
        body: request.object,
        subresource: request.subresource ?? null,
      },
      caller,
    );
  }

  patch(request: PatchRequest, caller: MeshCaller): Promise<ApiReply> {
    return this.run(
      request,
      "patch",
      request.name,
      {
        body: request.patch as JsonValue,
        contentType: PATCH_CONTENT_TYPES[request.patchType] ?? String(request.patchType),
        subresource: request.subresource ?? null,
      },
      caller,
    );
  }

  delete(request: DeleteRequest, caller: MeshCaller): Promise<ApiReply> {
    // a DeleteOptions body, as client-go sends one
    return this.run(
      request,
      "delete",
      request.name,
      {
        body: {
          ...(request.preconditions ? { preconditions: request.preconditions } : {}),
          ...(request.gracePeriodSeconds !== undefined
            ? { gracePeriodSeconds: request.gracePeriodSeconds }
            : {}),
          ...(request.propagationPolicy !== undefined
            ? { propagationPolicy: request.propagationPolicy }
            : {}),
        },
      },
      caller,
    );
  }

  /** One REST verb through the HTTP path's handler; an ApiError becomes `{ok: false, status}`. */
  private async run(
    scope: ResourceScope,
    verb: RequestVerb,
    name: string | null,
    extra: {
      namespace?: string | null;
      options?: RequestOptions;
      body?: JsonValue;
      contentType?: string;
      subresource?: string | null;
    },
    caller: MeshCaller,
  ): Promise<ApiReply> {
    try {
      const r = resolveScopeResource(scope.resource);
      const input: RequestInput = {
        request: {
          resource: r,
          namespace: r.namespaced ? (extra.namespace ?? scope.namespace ?? null) : null,
          name,
          subresource: extra.subresource ?? null,
          verb,
        },
        options: extra.options ?? {},
        accept: undefined,
        contentType: extra.contentType ?? "application/json",
        body: async () => extra.body ?? null,
        user: authenticatedUser(caller, r, name),
      };
      const result = await this.handler.handle(input);
      return { ok: true, object: result.body as JsonObject };
    } catch (error) {
      return { ok: false, status: statusOf(error) };
    }
  }

  // ---- watches ---------------------------------------------------------------------------------

  async watch(
    subscriber: string,
    tag: string,
    request: WatchRequest,
    caller: MeshCaller,
  ): Promise<Status | null> {
    const key = `${subscriber}#${tag}`;
    if (this.watches.has(key)) return badRequestStatus(`watch ${tag} already exists`);
    if (this.watches.size >= MAX_API_WATCHES)
      return tooManyRequestsStatus(`too many watches on ${this.system.nodeId}`, 1);
    let pump: WatchPump;
    try {
      const r = resolveScopeResource(request.resource);
      const { resource: _r, namespace, name, user: _u, ...options } = request;
      const watched = {
        resource: r,
        namespace: r.namespaced ? (namespace ?? null) : null,
        name: name ?? null,
        subresource: null,
        verb: "watch" as const,
      };
      await this.handler.authorizeWatch(watched, authenticatedUser(caller, r, name ?? null));
      const sink = new WatchMessageSink(this.system, subscriber, tag, () => {
        if (this.watches.get(key) === pump) this.watches.delete(key);
      });
      pump = this.handler.openWatch(watched, options, sink);
    } catch (error) {
      return statusOf(error);
    }
    this.watches.set(key, pump);
    try {
      await pump.start();
      return null;
    } catch (error) {
      if (this.watches.get(key) === pump) this.watches.delete(key);
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
