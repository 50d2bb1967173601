/**
 * The ObjectStore's contract in memory, for handler tests without a Raft cluster: one global
 * revision, modRevision guards on update and delete, namespace existence on create, prefix
 * lists, and a log of the changes a watcher would see (PUT / DELETE per key).
 */
import { type JsonObject, jsonClone } from "../../../actors/api/json.ts";
import {
  type ListPage,
  ObjectStore,
  type StoredObject,
  type WriteOutcome,
} from "../../../actors/apiserver/object-store.ts";

interface Row {
  object: JsonObject;
  modRevision: number;
}

function stamped(object: JsonObject, revision: number): JsonObject {
  const copy = jsonClone(object);
  const meta = (copy.metadata ?? {}) as JsonObject;
  copy.metadata = { ...meta, resourceVersion: String(revision) };
  return copy;
}

export class MemoryObjectStore extends ObjectStore {
  revision = 1;
  private readonly rows = new Map<string, Row>();
  /** What watchers would have seen, in order: `PUT key` / `DELETE key`. */
  readonly changes: string[] = [];

  constructor() {
    super(() => {
      throw new Error("MemoryObjectStore has no store client");
    });
  }

  override async get(key: string): Promise<StoredObject | null> {
    const row = this.rows.get(key);
    return row
      ? { object: stamped(row.object, row.modRevision), modRevision: row.modRevision }
      : null;
  }

  override async currentRevision(): Promise<number> {
    return this.revision;
  }

  override async list(prefix: string): Promise<ListPage> {
    const items = [...this.rows.entries()]
      .filter(([k]) => k.startsWith(prefix))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([, row]) => stamped(row.object, row.modRevision));
    return { items, revision: this.revision, nextKey: null, remaining: 0 };
  }

  override async create(
    key: string,
    object: JsonObject,
    namespaceKey: string | null,
  ): Promise<WriteOutcome> {
    if (namespaceKey !== null && !this.rows.has(namespaceKey)) return { kind: "namespaceNotFound" };
    if (this.rows.has(key)) return { kind: "exists" };
    return this.put(key, object);
  }

  override async update(
    key: string,
    object: JsonObject,
    expectedModRevision: number,
  ): Promise<WriteOutcome> {
    const row = this.rows.get(key);
    if (!row) return { kind: "notFound" };
    if (row.modRevision !== expectedModRevision) return { kind: "conflict" };
    return this.put(key, object);
  }

  override async delete(
    key: string,
    expectedModRevision: number,
    alsoDeletePrefixes: readonly string[] = [],
  ): Promise<WriteOutcome & { kind: "ok" | "conflict" | "notFound" }> {
    const row = this.rows.get(key);
    if (!row) return { kind: "notFound" };
    if (row.modRevision !== expectedModRevision) return { kind: "conflict" };
    this.revision++;
    for (const k of [...this.rows.keys()])
      if (k === key || alsoDeletePrefixes.some((p) => k.startsWith(p))) {
        this.rows.delete(k);
        this.changes.push(`DELETE ${k}`);
      }
    return { kind: "ok", object: {}, revision: this.revision };
  }

  private put(key: string, object: JsonObject): WriteOutcome {
    const revision = ++this.revision;
    const stored = jsonClone(object);
    const meta = { ...((stored.metadata ?? {}) as JsonObject) };
    delete meta.resourceVersion;
    stored.metadata = meta;
    this.rows.set(key, { object: stored, modRevision: revision });
    this.changes.push(`PUT ${key}`);
    return { kind: "ok", object: stamped(stored, revision), revision };
  }
}
