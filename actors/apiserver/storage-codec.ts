/**
 * How an object is kept in the store (the apiserver's storage codec over etcd3): its JSON text
 * without `metadata.resourceVersion`, which is the key's modRevision and is stamped on the way
 * out. The object store, the watch cache's index and the watch events all decode through here,
 * so none of them needs the others to read a stored value.
 */
import { isJsonObject, type JsonObject } from "../api/json.ts";

/** Decodes a stored value and stamps its resourceVersion. */
export function decodeObject(kv: { value: Uint8Array; modRevision: number }): JsonObject {
  const v = kv.value;
  // a view, not a copy
  const parsed: unknown = JSON.parse(
    Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("utf8"),
  );
  if (!isJsonObject(parsed)) throw new Error("stored object is not a JSON object");
  const meta = isJsonObject(parsed.metadata) ? parsed.metadata : {};
  parsed.metadata = { ...meta, resourceVersion: String(kv.modRevision) };
  return parsed;
}

/** The stored form: everything but the resourceVersion (the store's revision says it). */
export function encodeObject(object: JsonObject): Buffer {
  const meta = isJsonObject(object.metadata) ? { ...object.metadata } : {};
  delete meta.resourceVersion;
  return Buffer.from(JSON.stringify({ ...object, metadata: meta }), "utf8");
}

/** `object` as written at `revision`: what a write answers with. */
export function withRevision(object: JsonObject, revision: number): JsonObject {
  const meta = isJsonObject(object.metadata) ? object.metadata : {};
  return { ...object, metadata: { ...meta, resourceVersion: String(revision) } };
}
