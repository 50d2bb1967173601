/**
 * The REST verbs on one resource (the generic registry + the handlers of k8s.io/apiserver):
 * get, list, create, update, patch, delete, deletecollection, and the scale subresource. Every
 * write goes through the store client as one txn; reads are linearizable unless the caller
 * said resourceVersion=0.
 */
import { randomUUID } from "node:crypto";
import { asObject, isJsonObject, type JsonObject, type JsonValue } from "../api/json.ts";
import { rfc3339 } from "../api/meta-time.ts";
import { generateNameSuffix } from "../api/object-meta.ts";
import { apiVersionOf, qualifiedResource, RESOURCES, type ResourceInfo } from "../api/resources.ts";
import {
  alreadyExistsStatus,
  badRequestStatus,
  conflictStatus,
  methodNotAllowedStatus,
  notFoundStatus,
  resourceExpiredStatus,
  tooManyRequestsStatus,
} from "../api/status.ts";
import { buildTable, type IncludeObject } from "../api/table.ts";
import {
  pruneUnknownFields,
  strictDecodingMessage,
  unknownFieldMessage,
  unknownFields,
} from "../api/unknown-fields.ts";
import { ApiError, isConflict, isNotFound } from "../client/errors.ts";
import type { Clock } from "../system/clock.ts";
import { Admission } from "./admission.ts";
import { type DeleteOptions, parseDeleteOptions, preconditionFailure } from "./delete-options.ts";
import { objectFilter, parseListOptions } from "./list-options.ts";
import {
  planDeletion,
  podGracePeriodSeconds,
  shouldDeleteDuringUpdate,
  withTerminatingPhase,
} from "./object-deletion.ts";
import { prepareCreate, prepareUpdate, sameObject } from "./object-lifecycle.ts";
import { CompactedError, type ObjectStore, type StoredObject } from "./object-store.ts";
import { applyPatch } from "./patch.ts";
import {
  followPodLog,
  type PodLogRead,
  type PodLogReply,
  type PodLogs,
  parsePodLogOptions,
  podLogContainer,
  type TextSink,
} from "./pod-logs.ts";
import {
  ContinueTokenError,
  collectionPrefix,
  decodeContinue,
  encodeContinue,
  objectKey,
} from "./registry-keys.ts";
import type { ResourceRequest } from "./request-info.ts";

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
 * `fieldValidation` on create, update and patch: Strict fails with 400 on unknown fields, Warn
 * (the default) answers with a warning per field, Ignore says nothing; either of the latter two
 * drops the unknown fields, as Kubernetes' decoder does.
 */
export function validateFields<T extends JsonValue>(
  r: ResourceInfo,
  body: T,
  query: URLSearchParams,
): { object: T; warnings: string[] } {
  const mode = query.get("fieldValidation") ?? "Warn";
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

/** `dryRun=All`: everything but the store write; any other value is a 400. */
function isDryRun(input: RequestInput): boolean {
  const values = input.query.getAll("dryRun");
  for (const v of values)
    if (v !== "All")
      throw new ApiError(
        badRequestStatus(`Invalid dryRun value ${JSON.stringify(v)}: must be "All"`),
      );
  return values.length > 0;
}

/** A pod's status with PodScheduled=True (kept as it was if it already said so). */
function withPodScheduled(status: JsonObject, wallMs: number): JsonObject {
  const conditions = Array.isArray(status.conditions) ? status.conditions : [];
  const scheduled = (c: JsonValue) => isJsonObject(c) && c.type === "PodScheduled";
  const old = conditions.find(scheduled);
  if (isJsonObject(old) && old.status === "True") return status;
  const condition: JsonObject = {
    type: "PodScheduled",
    status: "True",
    lastProbeTime: null,
    lastTransitionTime: rfc3339(wallMs),
  };
  return {
    ...status,
    conditions:
      old === undefined
        ? [...conditions, condition]
        : conditions.map((c) => (scheduled(c) ? condition : c)),
  };
}

/** How often a patch is retried when another write got in between (Kubernetes: 5). */
const MAX_PATCH_ATTEMPTS = 5;
const NAMESPACES = RESOURCES.find((r) => r.plural === "namespaces") as ResourceInfo;

const gr = (r: ResourceInfo) => ({ group: r.group, resource: r.plural });

export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? "").split(",").some((p) => p.includes("as=Table"));
}

export interface RequestInput {
  request: ResourceRequest;
  query: URLSearchParams;
  accept: string | undefined;
  contentType: string;
  body: () => Promise<JsonValue>;
}

/** Retries of an unconditional delete that raced a concurrent write. */
const MAX_DELETE_ATTEMPTS = 5;

export type { PodLogs } from "./pod-logs.ts";

export class ResourceHandler {
  private readonly admission: Admission;

  constructor(
    private readonly store: ObjectStore,
    private readonly clock: Clock,
    private readonly podLogs?: PodLogs,
  ) {
    this.admission = new Admission(store);
  }

  async handle(input: RequestInput): Promise<HandlerResult> {
    const { request } = input;
    const r = request.resource;
    const sub = request.subresource;
    if (sub !== null && !r.subresources.some((s) => s.name === sub))
      throw new ApiError(notFoundStatus(gr(r), request.name ?? ""));
    if (sub === "scale") return this.scale(input);
    if (sub === "binding") return this.bind(input);
    if (sub === "log" && this.podLogs) return this.logs(input, this.podLogs);
    if (sub === "log") {
      // Logs come from the kubelet that runs the pod; without a way to reach kubelets, say so.
      const status = notFoundStatus(gr(r), request.name ?? "");
      const message = `pods "${request.name ?? ""}" log: logs are served by the kubelet, and no kubelet serves this pod yet`;
      throw new ApiError({ ...status, message });
    }
    const verbAllowed = r.verbs.includes(request.verb === "watch" ? "watch" : request.verb);
    if (!verbAllowed) throw new ApiError(methodNotAllowedStatus(gr(r), request.verb));
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

  private key(req: ResourceRequest, name = req.name ?? ""): string {
    return objectKey(req.resource, req.namespace, name);
  }

  private async mustGet(req: ResourceRequest, serializable = false): Promise<StoredObject> {
    const found = await this.store.get(this.key(req), serializable);
    if (found === null) throw new ApiError(notFoundStatus(gr(req.resource), req.name ?? ""));
    return found;
  }

  /**
   * Runs a write of the object `req` names from the watch cache's copy first, saving the quorum
   * read (kube-apiserver's GuaranteedUpdate with the cacher's suggestion). The copy may be
   * stale, but every write is guarded by the revision it started from; if the attempt fails in
   * any way the API answers (a conflict, a no-op, a check against an older state), it runs
   * again from a linearizable read, whose answer stands.
   */
  private async fromSuggestion<T>(
    req: ResourceRequest,
    dryRun: boolean,
    run: (current: StoredObject) => Promise<T>,
  ): Promise<T> {
    const suggested = dryRun ? null : this.store.suggestion(this.key(req));
    if (suggested !== null) {
      try {
        return await run(suggested);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
      }
    }
    return run(await this.mustGet(req));
  }

  /** A suggested (possibly stale) copy cannot answer without a write: read again. */
  private static confirm(req: ResourceRequest, current: StoredObject): void {
    if (current.suggested) throw new ApiError(conflictStatus(gr(req.resource), req.name ?? ""));
  }

  private asTable(
    input: RequestInput,
    objects: JsonObject[],
    meta: { resourceVersion?: string; continue?: string },
  ) {
    const include = (input.query.get("includeObject") ?? "Metadata") as IncludeObject;
    return buildTable(input.request.resource.kind, objects, {
      nowMs: this.clock.wallMs(),
      includeObject: include,
      ...meta,
    });
  }

  private async get(input: RequestInput): Promise<HandlerResult> {
    const rv = input.query.get("resourceVersion") ?? "";
    const found = await this.store.read(this.key(input.request), rv === "0");
    if (found === null)
      throw new ApiError(notFoundStatus(gr(input.request.resource), input.request.name ?? ""));
    const { object } = found;
    if (wantsTable(input.accept)) return { code: 200, body: this.asTable(input, [object], {}) };
    return { code: 200, body: object };
  }

  private async list(input: RequestInput): Promise<HandlerResult> {
    const r = input.request.resource;
    const options = parseListOptions(r, input.query);
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
    const r = req.resource;
    const body = await input.body();
    if (!isJsonObject(body))
      throw new ApiError(badRequestStatus("the body of the request was in an unknown format"));
    const { object: known, warnings } = validateFields(r, body, input.query);
    const prepared = prepareCreate(r, known, req.namespace, {
      uid: randomUUID(),
      wallMs: this.clock.wallMs(),
      generateNameSuffix: generateNameSuffix(Math.random),
    });
    const obj = await this.admission.admitCreate(r, prepared);
    const name = String(asObject(obj.metadata).name ?? "");
    if (isDryRun(input)) return { code: 201, body: obj, warnings };
    const namespaceKey = r.namespaced ? objectKey(NAMESPACES, null, req.namespace ?? "") : null;
    const out = await this.store.create(this.key(req, name), obj, namespaceKey);
    if (out.kind === "ok") return { code: 201, body: out.object, warnings };
    if (out.kind === "namespaceNotFound")
      throw new ApiError(notFoundStatus(gr(NAMESPACES), req.namespace ?? ""));
    throw new ApiError(alreadyExistsStatus(gr(r), name));
  }

  /**
   * Writes `next` over `current` guarded by `expectedRevision`; an update that takes the last
   * finalizer off a deleting object removes it instead (a DELETED event for watchers).
   */
  private async write(
    req: ResourceRequest,
    current: StoredObject,
    next: JsonObject,
    expectedRevision: number,
    dryRun: boolean,
  ): Promise<HandlerResult> {
    const r = req.resource;
    if (expectedRevision !== current.modRevision)
      throw new ApiError(conflictStatus(gr(r), req.name ?? ""));
    if (sameObject(next, current.object)) {
      ResourceHandler.confirm(req, current);
      return { code: 200, body: current.object };
    }
    if (dryRun) return { code: 200, body: next };
    if (shouldDeleteDuringUpdate(next, current.object)) {
      await this.remove(req, expectedRevision);
      return { code: 200, body: next };
    }
    const out = await this.store.update(this.key(req), next, expectedRevision);
    if (out.kind === "ok") return { code: 200, body: out.object };
    if (out.kind === "notFound") throw new ApiError(notFoundStatus(gr(r), req.name ?? ""));
    throw new ApiError(conflictStatus(gr(r), req.name ?? ""));
  }

  private async update(input: RequestInput): Promise<HandlerResult> {
    const req = input.request;
    const raw = await input.body();
    if (!isJsonObject(raw))
      throw new ApiError(badRequestStatus("the body of the request was in an unknown format"));
    const { object: body, warnings } = validateFields(req.resource, raw, input.query);
    const bodyName = asObject(body.metadata).name;
    if (bodyName !== undefined && bodyName !== req.name)
      throw new ApiError(
        badRequestStatus(
          `the name of the object (${String(bodyName)}) does not match the name on the URL (${req.name})`,
        ),
      );
    const dryRun = isDryRun(input);
    return this.fromSuggestion(req, dryRun, async (current) => {
      const rv = asObject(body.metadata).resourceVersion;
      const expected = rv === undefined || rv === "" ? current.modRevision : Number(rv);
      if (!Number.isInteger(expected))
        throw new ApiError(badRequestStatus(`invalid resourceVersion: ${String(rv)}`));
      const withName = { ...body, metadata: { ...asObject(body.metadata), name: req.name ?? "" } };
      const next = prepareUpdate(
        req.resource,
        withName,
        current.object,
        req.namespace,
        req.subresource,
      );
      return { ...(await this.write(req, current, next, expected, dryRun)), warnings };
    });
  }

  private async patch(input: RequestInput): Promise<HandlerResult> {
    const req = input.request;
    const patch = await input.body();
    const dryRun = isDryRun(input);
    let suggested = dryRun ? null : this.store.suggestion(this.key(req));
    for (let attempt = 1; ; attempt++) {
      // the first try starts from the watch cache's copy (see fromSuggestion)
      const current = suggested ?? (await this.mustGet(req));
      suggested = null;
      let pinned = false;
      try {
        const { object: patched, warnings } = validateFields(
          req.resource,
          applyPatch(input.contentType, current.object, patch, req.resource.kind),
          input.query,
        );
        const rv = asObject(patched.metadata).resourceVersion;
        // a patch that sets metadata.resourceVersion pins the update to that version: no retries
        pinned = rv !== undefined && rv !== asObject(current.object.metadata).resourceVersion;
        const expected = pinned ? Number(rv) : current.modRevision;
        const next = prepareUpdate(
          req.resource,
          patched,
          current.object,
          req.namespace,
          req.subresource,
        );
        return { ...(await this.write(req, current, next, expected, dryRun)), warnings };
      } catch (error) {
        if (current.suggested && error instanceof ApiError) {
          attempt--;
          continue;
        }
        if (!isConflict(error) || pinned || attempt >= MAX_PATCH_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * A delete without preconditions never fails for a concurrent change (kube-apiserver retries
   * its guarded update): a conflict on the object's revision is retried on a fresh read.
   */
  private async delete(input: RequestInput): Promise<HandlerResult> {
    const options = parseDeleteOptions(await input.body(), input.query);
    return this.deleteWithRetries(input.request, options);
  }

  private async deleteWithRetries(
    req: ResourceRequest,
    options: DeleteOptions,
  ): Promise<HandlerResult> {
    const guarded =
      options.preconditions.uid !== undefined ||
      options.preconditions.resourceVersion !== undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.deleteOnce(req, options);
      } catch (error) {
        if (!isConflict(error) || guarded || attempt >= MAX_DELETE_ATTEMPTS) throw error;
      }
    }
  }

  private async deleteOnce(req: ResourceRequest, options: DeleteOptions): Promise<HandlerResult> {
    const r = req.resource;
    const current = await this.mustGet(req);
    const failed = preconditionFailure(current.object, options.preconditions);
    if (failed !== null) throw new ApiError(conflictStatus(gr(r), req.name ?? "", failed));
    const plan = planDeletion(current.object, options, {
      nowMs: this.clock.wallMs(),
      gracePeriodSeconds: r.kind === "Pod" ? podGracePeriodSeconds(current.object, options) : null,
    });
    if (plan.kind === "pending") return { code: 200, body: current.object };
    if (plan.kind === "delete") {
      if (options.dryRun) return { code: 200, body: current.object };
      await this.remove(req, current.modRevision);
      return { code: 200, body: current.object };
    }
    // kube-apiserver answers 202 only here: not gone yet, and the (deprecated) orphanDependents
    // said false; everything else that stays is a 200 with the object as it now is
    const code = options.orphanDependents === false ? 202 : 200;
    const next = r.kind === "Namespace" ? withTerminatingPhase(plan.object) : plan.object;
    if (options.dryRun) return { code, body: next };
    const out = await this.store.update(this.key(req), next, current.modRevision);
    if (out.kind === "ok") return { code, body: out.object };
    if (out.kind === "notFound") throw new ApiError(notFoundStatus(gr(r), req.name ?? ""));
    throw new ApiError(conflictStatus(gr(r), req.name ?? ""));
  }

  /**
   * Removes the object at `expectedRevision`. A namespace takes its contents with it (the
   * namespace controller's job, done in one txn).
   */
  private async remove(req: ResourceRequest, expectedRevision: number): Promise<void> {
    const r = req.resource;
    const contents =
      r.plural === "namespaces"
        ? RESOURCES.filter((x) => x.namespaced).map((x) => collectionPrefix(x, req.name))
        : [];
    const out = await this.store.delete(this.key(req), expectedRevision, contents);
    if (out.kind === "notFound") throw new ApiError(notFoundStatus(gr(r), req.name ?? ""));
    if (out.kind === "conflict") throw new ApiError(conflictStatus(gr(r), req.name ?? ""));
  }

  private async deleteCollection(input: RequestInput): Promise<HandlerResult> {
    const req = input.request;
    const r = req.resource;
    const listOptions = parseListOptions(r, input.query);
    const options = parseDeleteOptions(await input.body(), input.query);
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
        const out = await this.deleteWithRetries(one, options);
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

  /** `/scale` (autoscaling/v1 Scale) over `spec.replicas` of deployments and replicasets. */
  /**
   * pods/log: asks the kubelet of the pod's node (pod-logs.ts): `container`, `previous`,
   * `tailLines`, `limitBytes`, and `follow` (the rest then streams).
   */
  private async logs(input: RequestInput, podLogs: PodLogs): Promise<HandlerResult> {
    const req = input.request;
    if (req.verb !== "get") {
      throw new ApiError(methodNotAllowedStatus({ group: "", resource: "pods/log" }, req.verb));
    }
    const pod = (await this.mustGet(req)).object;
    const options = parsePodLogOptions(input.query, req.name ?? "");
    const container = podLogContainer(pod, options.container);
    const node = asObject(pod.spec).nodeName;
    if (typeof node !== "string" || node === "") {
      throw new ApiError(badRequestStatus(`pod "${req.name}" does not have a host assigned`));
    }
    const read: PodLogRead = {
      node,
      namespace: req.namespace ?? "default",
      pod: req.name ?? "",
      container,
      previous: options.previous,
      ...(options.tailLines !== undefined ? { tailLines: options.tailLines } : {}),
      ...(options.limitBytes !== undefined ? { limitBytes: options.limitBytes } : {}),
    };
    const follower = options.follow ? randomUUID() : undefined;
    let reply: PodLogReply;
    try {
      reply = await podLogs.read(follower ? { ...read, follower } : read);
    } catch (error) {
      if (follower) podLogs.unfollow(node, follower);
      throw new ApiError(
        badRequestStatus(`logs of pod "${req.name}" on node ${node}: ${(error as Error).message}`),
      );
    }
    if ("refused" in reply) {
      if (follower) podLogs.unfollow(node, follower);
      throw new ApiError(
        reply.refused === "TooManyRequests"
          ? tooManyRequestsStatus(reply.message, 1)
          : badRequestStatus(reply.message),
      );
    }
    if (!follower || !reply.more) {
      if (follower) podLogs.unfollow(node, follower);
      return { code: 200, body: null, text: reply.text };
    }
    const first = reply;
    return {
      code: 200,
      body: null,
      text: reply.text,
      stream: (sink) => followPodLog(podLogs, this.clock, { ...read, follower }, first, sink),
    };
  }

  /**
   * pods/binding (what a scheduler posts): sets spec.nodeName once. A pod already bound
   * elsewhere is a conflict, as kube-apiserver answers.
   */
  private async bind(input: RequestInput): Promise<HandlerResult> {
    const req = input.request;
    if (req.verb !== "create") {
      throw new ApiError(methodNotAllowedStatus({ group: "", resource: "pods/binding" }, req.verb));
    }
    const binding = asObject(await input.body());
    const target = asObject(binding.target);
    const node = target.name;
    if (typeof node !== "string" || node === "") {
      throw new ApiError(badRequestStatus("binding.target.name (the node) is required"));
    }
    const dryRun = isDryRun(input);
    await this.fromSuggestion(req, dryRun, async (current) => {
      const spec = asObject(current.object.spec);
      if (typeof spec.nodeName === "string" && spec.nodeName !== "") {
        throw new ApiError(
          conflictStatus(
            gr(req.resource),
            req.name ?? "",
            `pod is already assigned to node "${spec.nodeName}"`,
          ),
        );
      }
      // Not an update of the pod: spec.nodeName is immutable to updates, binding is how it is
      // set, with the PodScheduled condition in the same write (as kube-apiserver's binding does)
      const next: JsonObject = {
        ...current.object,
        spec: { ...spec, nodeName: node },
        status: withPodScheduled(asObject(current.object.status), this.clock.wallMs()),
      };
      await this.write({ ...req, subresource: null }, current, next, current.modRevision, dryRun);
    });
    return {
      code: 201,
      body: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 },
    };
  }

  private async scale(input: RequestInput): Promise<HandlerResult> {
    const req = input.request;
    const r = req.resource;
    const toScale = (obj: JsonObject) => {
      const meta = asObject(obj.metadata);
      const spec = asObject(obj.spec);
      const status = asObject(obj.status);
      return {
        kind: "Scale",
        apiVersion: "autoscaling/v1",
        metadata: {
          name: meta.name,
          namespace: meta.namespace,
          uid: meta.uid,
          resourceVersion: meta.resourceVersion,
          creationTimestamp: meta.creationTimestamp,
        },
        spec: { replicas: spec.replicas ?? 0 },
        status: { replicas: status.replicas ?? 0, selector: selectorString(spec.selector) },
      };
    };
    if (req.verb === "get") return { code: 200, body: toScale((await this.mustGet(req)).object) };
    if (req.verb !== "update" && req.verb !== "patch")
      throw new ApiError(
        methodNotAllowedStatus({ group: r.group, resource: `${r.plural}/scale` }, req.verb),
      );
    const current = await this.mustGet(req);
    const body = await input.body();
    const scale =
      req.verb === "patch"
        ? applyPatch(input.contentType, toScale(current.object) as JsonObject, body, "Scale")
        : asObject(body);
    const replicas = asObject(scale.spec).replicas;
    if (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0)
      throw new ApiError(badRequestStatus("spec.replicas must be a non-negative integer"));
    const rv = asObject(scale.metadata).resourceVersion;
    const expected = rv === undefined || rv === "" ? current.modRevision : Number(rv);
    // through the main resource's update path, so generation moves like any spec change
    const next = prepareUpdate(
      r,
      { ...current.object, spec: { ...asObject(current.object.spec), replicas } },
      current.object,
      req.namespace,
      null,
    );
    const out = await this.write(
      { ...req, subresource: null },
      current,
      next,
      expected,
      isDryRun(input),
    );
    return { code: 200, body: toScale(out.body as JsonObject) };
  }
}

/** A label selector in its string form (`app=web,tier in (a,b)`), as Scale.status.selector has it. */
function selectorString(selector: JsonValue | undefined): string {
  const sel = asObject(selector ?? {});
  const parts = Object.entries(asObject(sel.matchLabels ?? {})).map(
    ([k, v]) => `${k}=${String(v)}`,
  );
  for (const e of Array.isArray(sel.matchExpressions) ? sel.matchExpressions : []) {
    const { key, operator, values } = asObject(e);
    const list = Array.isArray(values) ? values.map(String).join(",") : "";
    if (operator === "In") parts.push(`${String(key)} in (${list})`);
    else if (operator === "NotIn") parts.push(`${String(key)} notin (${list})`);
    else if (operator === "Exists") parts.push(String(key));
    else if (operator === "DoesNotExist") parts.push(`!${String(key)}`);
  }
  return parts.join(",");
}

export { qualifiedResource };
