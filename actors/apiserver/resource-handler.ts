/**
 * The REST verbs on one resource (the generic registry + the handlers of k8s.io/apiserver):
 * get, list, watch, create, update, patch, delete, deletecollection; the subresources with
 * storage of their own (scale, binding, log) are in their own files, as Kubernetes gives them
 * their own REST storage. One per API server, shared by the HTTP server and the internal API.
 * Every write goes through the store client as one txn, and every write to an existing object
 * is a GuaranteedUpdate (guaranteed-update.ts); reads are linearizable unless the caller said
 * resourceVersion=0.
 */
import { randomUUID } from "node:crypto";
import { asObject, isJsonObject, type JsonObject, type JsonValue } from "../api/json.ts";
import { generateNameSuffix } from "../api/object-meta.ts";
import { apiVersionOf, RESOURCES, type ResourceInfo } from "../api/resources.ts";
import {
  alreadyExistsStatus,
  badRequestStatus,
  internalErrorStatus,
  methodNotAllowedStatus,
  notFoundStatus,
  resourceExpiredStatus,
  resourceNotServedStatus,
  subresourceNotServedStatus,
} from "../api/status.ts";
import { buildTable, type IncludeObject } from "../api/table.ts";
import {
  pruneUnknownFields,
  strictDecodingMessage,
  unknownFieldMessage,
  unknownFields,
} from "../api/unknown-fields.ts";
import { ANONYMOUS_USER, SYSTEM_UNAUTHENTICATED, type UserInfo } from "../api/user-info.ts";
import { ApiError, isNotFound } from "../client/errors.ts";
import type { Clock } from "../system/clock.ts";
import { Admission } from "./admission.ts";
import { AUTHORIZATION_GROUP, serveAccessReview } from "./auth/access-review.ts";
import { type Authorization, resourceAttributes } from "./auth/authorization.ts";
import { confirmNoEscalation, RBAC_KINDS } from "./auth/escalation.ts";
import { admitNodeRequest } from "./auth/node-restriction.ts";
import type { ServiceAccountTokens } from "./auth/service-account-token.ts";
import { serveTokenRequest } from "./auth/token-request.ts";
import { serveBinding } from "./binding-subresource.ts";
import { type DeleteOptions, parseDeleteOptions, preconditionFailure } from "./delete-options.ts";
import {
  conflictError,
  guaranteedUpdate,
  type HeldValues,
  keyOf,
  notFoundError,
  pinnedRevision,
  readObject,
  removeObject,
  retryRaced,
  WriteRaced,
} from "./guaranteed-update.ts";
import { fromStorageVersion, toStorageVersion } from "./hpa-conversion.ts";
import {
  type ListQuery,
  objectFilter,
  parseListOptions,
  parseWatchOptions,
} from "./list-options.ts";
import { METRICS_GROUP, type MetricsSource, serveMetrics } from "./metrics-api.ts";
import { planDeletion, podGracePeriodSeconds, withTerminatingPhase } from "./object-deletion.ts";
import { prepareCreate, prepareUpdate } from "./object-lifecycle.ts";
import { type AlsoInTxn, CompactedError, NOTHING_ELSE, type ObjectStore } from "./object-store.ts";
import { applyPatch } from "./patch.ts";
import { type PodLogs, servePodLog } from "./pod-logs.ts";
import {
  ContinueTokenError,
  collectionPrefix,
  decodeContinue,
  encodeContinue,
  objectKey,
} from "./registry-keys.ts";
import type { ResourceRequest } from "./request-info.ts";
import { dryRunOf, type RequestOptions } from "./request-options.ts";
import type { HandlerResult, RequestInput } from "./rest-request.ts";
import { serveScale } from "./scale-subresource.ts";
import { ServiceAllocator, type ServiceAllocatorOptions } from "./service-allocator.ts";
import { WatchPump, type WatchSink } from "./watch-pump.ts";

/**
 * `fieldValidation` on create, update and patch: Strict fails with 400 on unknown fields, Warn
 * (the default) answers with a warning per field, Ignore says nothing; either of the latter two
 * drops the unknown fields, as Kubernetes' decoder does.
 */
export function validateFields<T extends JsonValue>(
  r: ResourceInfo,
  body: T,
  options: Pick<RequestOptions, "fieldValidation">,
): { object: T; warnings: string[] } {
  const mode = options.fieldValidation ?? "Warn";
  if (mode !== "Strict" && mode !== "Warn" && mode !== "Ignore")
    throw new ApiError(
      badRequestStatus(
        `fieldValidation must be one of "Ignore", "Warn" or "Strict", not ${JSON.stringify(mode)}`,
      ),
    );
  const paths = unknownFields(r.kind, body);
  if (paths.length === 0) return { object: body, warnings: [] };
  if (mode === "Strict")
    throw new ApiError(badRequestStatus(strictDecodingMessage(r.kind, apiVersionOf(r), paths)));
  const object = pruneUnknownFields(r.kind, body);
  return { object, warnings: mode === "Warn" ? paths.map(unknownFieldMessage) : [] };
}

const ANONYMOUS: UserInfo = { username: ANONYMOUS_USER, groups: [SYSTEM_UNAUTHENTICATED] };

const NAMESPACES = RESOURCES.find((r) => r.plural === "namespaces") as ResourceInfo;

const gr = (r: ResourceInfo) => ({ group: r.group, resource: r.plural });

export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? "").split(",").some((p) => p.includes("as=Table"));
}

/**
 * Creates whose picked cluster IP or NodePort another API server's create took in between, in a
 * row, before the create gives up with 500 (each attempt after the first reads the store afresh,
 * so only a range nearly full and under a burst of creates loses more than once or twice).
 */
export const MAX_ALLOCATION_ATTEMPTS = 16;
/** Kubernetes' subresources that a resource here may not serve (yet): a 405 says so plainly. */
const KUBERNETES_SUBRESOURCES = new Set([
  "pods/exec",
  "pods/attach",
  "pods/portforward",
  "pods/proxy",
  "pods/eviction",
  "pods/ephemeralcontainers",
  "pods/resize",
  "services/proxy",
  "nodes/proxy",
]);

export class ResourceHandler {
  /** What Services hold beside their objects: cluster IPs and NodePorts. */
  readonly services: ServiceAllocator;
  private readonly admission: Admission;

  constructor(
    /** The one object store of this API server (the watch pump and the bootstrap use it too). */
    readonly store: ObjectStore,
    private readonly clock: Clock,
    private readonly podLogs?: PodLogs,
    /** The kubelets' Summary API, for metrics.k8s.io. */
    private readonly metrics?: MetricsSource,
    allocation: Partial<ServiceAllocatorOptions> = {},
    /** Who may do what (absent: everyone everything, for tests of the handler alone). */
    readonly authorization: Authorization | null = null,
    /** The ServiceAccount token issuer (absent: TokenRequest answers 404). */
    readonly serviceAccountTokens: ServiceAccountTokens | null = null,
  ) {
    this.services = new ServiceAllocator(store, allocation);
    this.admission = new Admission(store, serviceAccountTokens !== null);
  }

  /**
   * Authorization, then NodeRestriction, for one request (a watch is authorized by its caller
   * through `authorizeWatch` before it opens); returns who asks.
   */
  private async authorize(input: RequestInput): Promise<UserInfo> {
    const user = input.user ?? ANONYMOUS;
    if (this.authorization === null) return user;
    await this.authorization.require(resourceAttributes(user, input.request));
    await admitNodeRequest(this.store, user, input);
    return user;
  }

  /** Throws a 403 unless `user` may watch what `request` names. */
  async authorizeWatch(request: ResourceRequest, user: UserInfo | undefined): Promise<void> {
    if (this.authorization === null) return;
    await this.authorization.require(resourceAttributes(user ?? ANONYMOUS, request, "watch"));
  }

  /**
   * What objects of `r` keep in the store beside themselves, if anything; for RBAC's kinds, the
   * escalation check runs as the write's hook, on the object exactly as it will be stored.
   */
  private heldBy(r: ResourceInfo, user?: UserInfo): HeldValues | null {
    if (r.kind === "Service" && r.group === "") return this.services;
    const authorization = this.authorization;
    if (authorization !== null && RBAC_KINDS.has(r.kind) && r.group === "rbac.authorization.k8s.io")
      return {
        onWrite: async (next) => {
          await confirmNoEscalation(authorization, user ?? ANONYMOUS, r, next);
          return { object: next, also: NOTHING_ELSE };
        },
        onRemove: async () => NOTHING_ELSE,
      };
    return null;
  }

  async handle(input: RequestInput): Promise<HandlerResult> {
    const { request } = input;
    const r = request.resource;
    const sub = request.subresource;
    const user = await this.authorize(input);
    if (sub !== null && !r.subresources.some((s) => s.name === sub))
      throw new ApiError(
        KUBERNETES_SUBRESOURCES.has(`${r.plural}/${sub}`)
          ? subresourceNotServedStatus(gr(r), sub)
          : resourceNotServedStatus(),
      );
    if (r.group === AUTHORIZATION_GROUP && request.verb === "create" && this.authorization)
      return serveAccessReview(this.authorization, user, input);
    if (sub === "scale") return serveScale(this.store, input);
    if (sub === "binding") return serveBinding(this.store, this.clock, input);
    if (sub === "log") return servePodLog(this.store, this.clock, this.podLogs, input);
    if (r.group === METRICS_GROUP) return this.metricsAnswer(input);
    if (sub === "token") {
      if (this.serviceAccountTokens === null) throw notFoundError(request);
      return serveTokenRequest(this.store, this.serviceAccountTokens, this.clock, input);
    }
    if (!r.verbs.includes(request.verb))
      throw new ApiError(methodNotAllowedStatus(gr(r), request.verb));
    switch (request.verb) {
      case "get":
        return this.get(input);
      case "list":
        return this.list(input);
      case "create":
        return this.create(input);
      case "update":
        return this.update(input);
      case "patch":
        return this.patch(input);
      case "delete":
        return this.delete(input);
      case "deletecollection":
        return this.deleteCollection(input);
      default:
        throw new ApiError(methodNotAllowedStatus(gr(r), request.verb));
    }
  }

  /**
   * A watch of what `request` names (a collection or one object), its events going to `sink`;
   * the caller starts it. Throws a 400/422 for options a watch cannot take.
   */
  openWatch(request: ResourceRequest, query: ListQuery, sink: WatchSink): WatchPump {
    const r = request.resource;
    if (!r.verbs.includes("watch")) throw new ApiError(methodNotAllowedStatus(gr(r), "watch"));
    const options = parseWatchOptions(r, query);
    const target = { resource: r, namespace: request.namespace, name: request.name };
    return new WatchPump(this.store, this.clock, target, options, sink);
  }

  /** metrics.k8s.io, as a Table when kubectl asks for one (`kubectl get podmetrics`). */
  private async metricsAnswer(input: RequestInput): Promise<HandlerResult> {
    const out = await serveMetrics(this.store, this.metrics, input);
    if (!wantsTable(input.accept)) return out;
    const body = out.body as JsonObject;
    const items = Array.isArray(body.items) ? (body.items as JsonObject[]) : [body];
    return { code: 200, body: this.asTable(input, items, {}) };
  }

  private asTable(
    input: RequestInput,
    objects: JsonObject[],
    meta: { resourceVersion?: string; continue?: string },
  ) {
    const include = (input.options.includeObject ?? "Metadata") as IncludeObject;
    return buildTable(input.request.resource.kind, objects, {
      nowMs: this.clock.wallMs(),
      includeObject: include,
      ...meta,
    });
  }

  private async get(input: RequestInput): Promise<HandlerResult> {
    const found = await this.store.read(
      keyOf(input.request),
      input.options.resourceVersion === "0",
    );
    if (found === null) throw notFoundError(input.request);
    const { object } = found;
    if (wantsTable(input.accept)) return { code: 200, body: this.asTable(input, [object], {}) };
    return { code: 200, body: object };
  }

  private async list(input: RequestInput): Promise<HandlerResult> {
    const r = input.request.resource;
    const options = parseListOptions(r, input.options);
    const prefix = collectionPrefix(r, input.request.namespace);
    let startKey: string | undefined;
    let revision = 0;
    if (options.continueToken) {
      try {
        const token = decodeContinue(options.continueToken);
        startKey = prefix + token.start;
        revision = token.rv;
      } catch (error) {
        if (error instanceof ContinueTokenError)
          throw new ApiError(badRequestStatus(error.message));
        throw error;
      }
    } else if (
      options.resourceVersion !== "" &&
      options.resourceVersion !== "0" &&
      options.resourceVersionMatch === "Exact"
    ) {
      revision = Number(options.resourceVersion);
    }
    let page: Awaited<ReturnType<ObjectStore["list"]>>;
    try {
      page = await this.store.list(prefix, {
        ...(startKey !== undefined ? { startKey } : {}),
        revision,
        limit: options.limit,
        serializable: options.resourceVersion === "0" && revision === 0,
        cached: true,
      });
    } catch (error) {
      if (error instanceof CompactedError)
        throw new ApiError(
          resourceExpiredStatus(
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
          ),
        );
      throw error;
    }
    const keep = objectFilter(r, options);
    const items = page.items.filter(keep);
    const listRevision = revision || page.revision;
    const meta: { resourceVersion: string; continue?: string; remainingItemCount?: number } = {
      resourceVersion: String(listRevision),
    };
    if (page.nextKey !== null) {
      meta.continue = encodeContinue({
        rv: listRevision,
        start: page.nextKey.slice(prefix.length),
      });
      if (!options.labelSelector && !options.fieldSelector)
        meta.remainingItemCount = page.remaining;
    }
    if (wantsTable(input.accept)) return { code: 200, body: this.asTable(input, items, meta) };
    return {
      code: 200,
      body: { kind: `${r.kind}List`, apiVersion: apiVersionOf(r), metadata: meta, items },
    };
  }

  private async create(input: RequestInput): Promise<HandlerResult> {
    const req = input.request;
    const received = await input.body();
    if (!isJsonObject(received))
      throw new ApiError(badRequestStatus("the body of the request was in an unknown format"));
    // stored in its storage version (autoscaling/v1 HPAs as v2)
    const { resource: r, object: body } = toStorageVersion(req.resource, received);
    const { object: known, warnings } = validateFields(r, body, input.options);
    const prepared = prepareCreate(r, known, req.namespace, {
      uid: randomUUID(),
      wallMs: this.clock.wallMs(),
      generateNameSuffix: generateNameSuffix(Math.random),
    });
    const obj = await this.admission.admitCreate(r, prepared);
    const name = String(asObject(obj.metadata).name ?? "");
    const answer = (o: JsonObject) => fromStorageVersion(req.resource, o);
    const held = this.heldBy(r, input.user);
    const namespaceKey = r.namespaced ? objectKey(NAMESPACES, null, req.namespace ?? "") : null;
    const key = keyOf({ ...req, name });
    for (let attempt = 1; ; attempt++) {
      const { object, also } =
        held === null
          ? { object: obj, also: NOTHING_ELSE }
          : await this.allocateForCreate(held, r, key, obj, attempt > 1);
      if (dryRunOf(input.options)) return { code: 201, body: answer(object), warnings };
      const out = await this.store.create(key, object, namespaceKey, also);
      if (out.kind === "ok") return { code: 201, body: answer(out.object), warnings };
      if (out.kind === "namespaceNotFound")
        throw new ApiError(notFoundStatus(gr(NAMESPACES), req.namespace ?? ""));
      if (out.kind !== "conflict") throw new ApiError(alreadyExistsStatus(gr(r), name));
      // another create took a value this one picked: pick again from the store's word
      if (attempt >= MAX_ALLOCATION_ATTEMPTS)
        throw new ApiError(
          internalErrorStatus(
            `failed to allocate values for ${name}: taken by concurrent writes ${attempt} times`,
          ),
        );
    }
  }

  /**
   * What a create holds beside its object. A name already taken is AlreadyExists before any
   * allocation error (the `kubernetes` Service, created by every API server every round, asks
   * again for the address it already holds).
   */
  private async allocateForCreate(
    held: HeldValues,
    r: ResourceInfo,
    key: string,
    obj: JsonObject,
    fresh: boolean,
  ): Promise<{ object: JsonObject; also: AlsoInTxn }> {
    const exists = new ApiError(
      alreadyExistsStatus(gr(r), String(asObject(obj.metadata).name ?? "")),
    );
    if (this.store.suggestion(key) !== null) throw exists;
    try {
      return await held.onWrite(obj, null, fresh);
    } catch (error) {
      if (error instanceof ApiError && (await this.store.get(key, false)) !== null) throw exists;
      throw error;
    }
  }

  private async update(input: RequestInput): Promise<HandlerResult> {
    const req = input.request;
    const raw = await input.body();
    if (!isJsonObject(raw))
      throw new ApiError(badRequestStatus("the body of the request was in an unknown format"));
    const { object: body, warnings } = validateFields(req.resource, raw, input.options);
    const bodyName = asObject(body.metadata).name;
    if (bodyName !== undefined && bodyName !== req.name)
      throw new ApiError(
        badRequestStatus(
          `the name of the object (${String(bodyName)}) does not match the name on the URL (${req.name})`,
        ),
      );
    // an update without a resourceVersion is unconditional: it applies whatever else was written
    const precondition = pinnedRevision(asObject(body.metadata).resourceVersion);
    const withName = { ...body, metadata: { ...asObject(body.metadata), name: req.name ?? "" } };
    const object = await guaranteedUpdate(
      this.store,
      req,
      dryRunOf(input.options),
      (current) => ({
        next: prepareUpdate(req.resource, withName, current.object, req.namespace, req.subresource),
        precondition,
      }),
      this.heldBy(req.resource, input.user),
    );
    return { code: 200, body: object, warnings };
  }

  private async patch(input: RequestInput): Promise<HandlerResult> {
    const req = input.request;
    const patch = await input.body();
    let warnings: string[] = [];
    const object = await guaranteedUpdate(
      this.store,
      req,
      dryRunOf(input.options),
      (current) => {
        const validated = validateFields(
          req.resource,
          applyPatch(input.contentType, current.object, patch, req.resource.kind),
          input.options,
        );
        warnings = validated.warnings;
        const patched = validated.object;
        return {
          next: prepareUpdate(
            req.resource,
            patched,
            current.object,
            req.namespace,
            req.subresource,
          ),
          // a patch that sets metadata.resourceVersion pins the update to that version
          precondition: pinnedRevision(
            asObject(patched.metadata).resourceVersion,
            asObject(current.object.metadata).resourceVersion,
          ),
        };
      },
      this.heldBy(req.resource, input.user),
    );
    return { code: 200, body: object, warnings };
  }

  /**
   * A delete never fails for a concurrent change (kube-apiserver's conditional delete and the
   * guarded update that marks a graceful or finalized delete both retry on a fresh read); only
   * its preconditions, checked against each fresh read, answer 409.
   */
  private async delete(input: RequestInput): Promise<HandlerResult> {
    const options = parseDeleteOptions(await input.body(), input.options);
    return this.deleteObject(input.request, options);
  }

  private deleteObject(req: ResourceRequest, options: DeleteOptions): Promise<HandlerResult> {
    return retryRaced(req, () => this.deleteOnce(req, options));
  }

  private async deleteOnce(req: ResourceRequest, options: DeleteOptions): Promise<HandlerResult> {
    const r = req.resource;
    const current = await readObject(this.store, req);
    const failed = preconditionFailure(current.object, options.preconditions);
    if (failed !== null) throw conflictError(req, failed);
    const plan = planDeletion(current.object, options, {
      nowMs: this.clock.wallMs(),
      gracePeriodSeconds: r.kind === "Pod" ? podGracePeriodSeconds(current.object, options) : null,
    });
    if (plan.kind === "pending") return { code: 200, body: current.object };
    if (plan.kind === "delete") {
      if (options.dryRun) return { code: 200, body: current.object };
      await removeObject(this.store, req, current, this.heldBy(r));
      return { code: 200, body: current.object };
    }
    // kube-apiserver answers 202 only here: not gone yet, and the (deprecated) orphanDependents
    // said false; everything else that stays is a 200 with the object as it now is
    const code = options.orphanDependents === false ? 202 : 200;
    const next = r.kind === "Namespace" ? withTerminatingPhase(plan.object) : plan.object;
    if (options.dryRun) return { code, body: next };
    const out = await this.store.update(keyOf(req), next, current.modRevision);
    if (out.kind === "ok") return { code, body: out.object };
    if (out.kind === "notFound") throw notFoundError(req);
    throw new WriteRaced();
  }

  private async deleteCollection(input: RequestInput): Promise<HandlerResult> {
    const req = input.request;
    const r = req.resource;
    const listOptions = parseListOptions(r, input.options);
    const options = parseDeleteOptions(await input.body(), input.options);
    const page = await this.store.list(collectionPrefix(r, req.namespace), { serializable: false });
    const keep = objectFilter(r, listOptions);
    const deleted: JsonObject[] = [];
    for (const obj of page.items.filter(keep)) {
      const meta = asObject(obj.metadata);
      const one = {
        ...req,
        name: String(meta.name),
        namespace: r.namespaced ? String(meta.namespace) : null,
        verb: "delete" as const,
      };
      try {
        const out = await this.deleteObject(one, options);
        deleted.push(out.body as JsonObject);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    return {
      code: 200,
      body: { kind: `${r.kind}List`, apiVersion: apiVersionOf(r), metadata: {}, items: deleted },
    };
  }
}
