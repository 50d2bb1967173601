/**
 * An in-memory API server for controller tests: get/list/create/update/delete/watch over
 * objects keyed by resource and namespace/name, with a global revision as resourceVersion,
 * optimistic concurrency (409 on a stale resourceVersion), generateName, uids, generation bumps
 * on spec changes, the status subresource, delete preconditions, finalizers and propagation
 * policies (the API server's own `planDeletion`, without graceful deletion: every kind is
 * deleted at once or held by its finalizers), and watches. Failures can be injected per verb.
 */
import { randomUUID } from "node:crypto";
import type {
  ApiWatchEvent,
  ListRequest,
  PropagationPolicy,
  WatchRequest,
} from "../../../actors/api/api-protocol.ts";
import { type JsonObject, jsonClone, jsonEqual } from "../../../actors/api/json.ts";
import { alreadyExistsStatus, conflictStatus, notFoundStatus } from "../../../actors/api/status.ts";
import {
  planDeletion,
  shouldDeleteDuringUpdate,
} from "../../../actors/apiserver/object-deletion.ts";
import type {
  ApiWatchHandle,
  ApiWatchHandlers,
  ObjectList,
} from "../../../actors/client/api-client.ts";
import { ApiError } from "../../../actors/client/errors.ts";

type Meta = Record<string, unknown>;
const meta = (o: JsonObject) => (o.metadata ?? {}) as Meta;

interface Options {
  namespace?: string | null;
  subresource?: string | null;
  preconditions?: { uid?: string; resourceVersion?: string };
  gracePeriodSeconds?: number;
  propagationPolicy?: PropagationPolicy;
}

export class FakeApi {
  revision = 100;
  readonly objects = new Map<string, JsonObject>();
  private readonly watchers: { resource: string; handlers: ApiWatchHandlers; open: boolean }[] = [];
  private seq = 0;
  private readonly history: { resource: string; revision: number; event: ApiWatchEvent }[] = [];
  /** Throws this error from the next call of a verb. */
  failNext: Partial<Record<"get" | "create" | "update" | "delete", Error>> = {};
  readonly writes: string[] = [];
  /** Each delete's grace period (undefined: the object's own). */
  readonly deleteGracePeriods: { name: string; gracePeriodSeconds: number | undefined }[] = [];

  private key(resource: string, namespace: string, name: string) {
    return `${resource}|${namespace}|${name}`;
  }

  private fail(verb: "get" | "create" | "update" | "delete") {
    const e = this.failNext[verb];
    if (e) {
      delete this.failNext[verb];
      throw e;
    }
  }

  async get(resource: string, name: string, options: Options = {}): Promise<JsonObject> {
    this.fail("get");
    const o = this.objects.get(this.key(resource, options.namespace ?? "", name));
    if (!o) throw new ApiError(notFoundStatus({ group: "", resource }, name));
    return jsonClone(o);
  }

  async list(request: ListRequest): Promise<ObjectList> {
    const items = [...this.objects.entries()]
      .filter(([k]) => k.startsWith(`${request.resource}|`))
      .map(([, o]) => o)
      .filter((o) => !request.namespace || meta(o).namespace === request.namespace);
    return {
      kind: "List",
      apiVersion: "v1",
      metadata: { resourceVersion: String(this.revision) },
      items: jsonClone(items),
    };
  }

  async create(resource: string, object: JsonObject, options: Options = {}): Promise<JsonObject> {
    this.fail("create");
    const m: Meta = { ...meta(object) };
    const namespace = String(options.namespace ?? m.namespace ?? "");
    if (!m.name && m.generateName)
      m.name = `${m.generateName}${String(++this.seq).padStart(5, "x")}`;
    const name = String(m.name);
    const k = this.key(resource, namespace, name);
    if (this.objects.has(k)) throw new ApiError(alreadyExistsStatus({ group: "", resource }, name));
    m.namespace = namespace || undefined;
    if (!namespace) delete m.namespace;
    m.uid = randomUUID();
    m.resourceVersion = String(++this.revision);
    m.generation = 1;
    m.creationTimestamp = new Date(1_700_000_000_000 + this.revision * 1000).toISOString();
    const stored = jsonClone({ ...object, metadata: m } as JsonObject);
    this.objects.set(k, stored);
    this.writes.push(`create ${resource} ${name}`);
    this.emit(resource, { type: "ADDED", object: stored });
    return jsonClone(stored);
  }

  async update(resource: string, object: JsonObject, options: Options = {}): Promise<JsonObject> {
    this.fail("update");
    const m = meta(object);
    const namespace = String(options.namespace ?? m.namespace ?? "");
    const name = String(m.name);
    const k = this.key(resource, namespace, name);
    const old = this.objects.get(k);
    if (!old) throw new ApiError(notFoundStatus({ group: "", resource }, name));
    if (m.resourceVersion !== undefined && m.resourceVersion !== meta(old).resourceVersion)
      throw new ApiError(conflictStatus({ group: "", resource }, name));
    let next: JsonObject;
    if (options.subresource === "status") next = { ...old, status: object.status ?? {} };
    else {
      next = { ...object, status: old.status ?? object.status } as JsonObject;
      const nm: Meta = { ...m };
      for (const f of [
        "uid",
        "creationTimestamp",
        "generation",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
      ])
        nm[f] = meta(old)[f];
      if (!jsonEqual(object.spec ?? null, old.spec ?? null))
        nm.generation = Number(meta(old).generation ?? 1) + 1;
      next.metadata = nm as JsonObject;
      if (next.status === undefined) delete next.status;
    }
    const nm = { ...meta(next), resourceVersion: String(++this.revision) };
    next = jsonClone({ ...next, metadata: nm } as JsonObject);
    this.writes.push(
      `update ${resource}${options.subresource ? `/${options.subresource}` : ""} ${name}`,
    );
    if (shouldDeleteDuringUpdate(next, old)) {
      this.remove(resource, k, old);
      return jsonClone(next);
    }
    this.objects.set(k, next);
    this.emit(resource, { type: "MODIFIED", object: next });
    return jsonClone(next);
  }

  async delete(resource: string, name: string, options: Options = {}): Promise<JsonObject> {
    this.fail("delete");
    const k = this.key(resource, options.namespace ?? "", name);
    const old = this.objects.get(k);
    if (!old) throw new ApiError(notFoundStatus({ group: "", resource }, name));
    const pre = options.preconditions ?? {};
    if (
      (pre.uid && pre.uid !== meta(old).uid) ||
      (pre.resourceVersion && pre.resourceVersion !== meta(old).resourceVersion)
    )
      throw new ApiError(conflictStatus({ group: "", resource }, name));
    this.writes.push(`delete ${resource} ${name}`);
    this.deleteGracePeriods.push({ name, gracePeriodSeconds: options.gracePeriodSeconds });
    const plan = planDeletion(
      old,
      {
        preconditions: {},
        dryRun: false,
        ...(options.gracePeriodSeconds !== undefined
          ? { gracePeriodSeconds: options.gracePeriodSeconds }
          : {}),
        ...(options.propagationPolicy ? { propagationPolicy: options.propagationPolicy } : {}),
      },
      { nowMs: 1_700_000_000_000 + this.revision * 1000, gracePeriodSeconds: null },
    );
    if (plan.kind === "pending") return jsonClone(old);
    if (plan.kind === "update") {
      const m = { ...meta(plan.object), resourceVersion: String(++this.revision) };
      const held = jsonClone({ ...plan.object, metadata: m } as JsonObject);
      this.objects.set(k, held);
      this.emit(resource, { type: "MODIFIED", object: held });
      return jsonClone(held);
    }
    this.remove(resource, k, old);
    return jsonClone(old);
  }

  /** Drops the object and tells watchers, with its last state at a new revision. */
  private remove(resource: string, k: string, old: JsonObject) {
    this.objects.delete(k);
    const gone = { ...old, metadata: { ...meta(old), resourceVersion: String(++this.revision) } };
    this.emit(resource, { type: "DELETED", object: gone as JsonObject });
  }

  async watch(request: WatchRequest, handlers: ApiWatchHandlers): Promise<ApiWatchHandle> {
    const w = { resource: request.resource, handlers, open: true };
    this.watchers.push(w);
    // a watch starts after its resourceVersion: replay what it missed
    const from = Number(request.resourceVersion ?? 0);
    for (const h of this.history)
      if (h.resource === request.resource && h.revision > from)
        handlers.event(jsonClone(h.event as never));
    return {
      cancel: () => {
        w.open = false;
      },
    };
  }

  /** Objects of a resource (optionally in a namespace), sorted by name. */
  all(resource: string, namespace?: string): JsonObject[] {
    return [...this.objects.entries()]
      .filter(([k]) =>
        k.startsWith(`${resource}|${namespace === undefined ? "" : `${namespace}|`}`),
      )
      .map(([, o]) => o)
      .sort((a, b) => String(meta(a).name).localeCompare(String(meta(b).name)));
  }

  private emit(resource: string, event: ApiWatchEvent) {
    this.history.push({ resource, revision: this.revision, event });
    for (const w of this.watchers)
      if (w.open && w.resource === resource) w.handlers.event(jsonClone(event as never));
  }
}

/** Lets promise chains run; no time passes. */
export async function settle(rounds = 50): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}
