/**
 * How an object is kept in the store (the apiserver's storage codec over etcd3): its JSON text
 * without `metadata.resourceVersion`, which is the key's modRevision and is stamped on the way
 * out. The object store, the watch cache's index and the watch events all decode through here,
 * so none of them needs the others to read a stored value.
 */
import { isJsonObject, type JsonObject } from "../api/json.ts";
import type { EncryptionAtRest } from "./encryption-config.ts";

/**
 * Encryption at rest (`--encryption-provider-config`), applied here so that every reader —
 * the object store, the watch cache, watch events — decrypts alike. One per process, as a
 * process runs one API server; null: values are stored as they are.
 */
let atRest: EncryptionAtRest | null = null;

export function useEncryptionAtRest(config: EncryptionAtRest | null): void {
  atRest = config;
}

function keyText(key: Uint8Array | string): string {
  return typeof key === "string" ? key : Buffer.from(key).toString("utf8");
}

/** The stored value as JSON bytes: decrypted when its resource is configured for it. */
function plainValue(kv: { key?: Uint8Array | string; value: Uint8Array }): Uint8Array {
  if (atRest === null || kv.key === undefined) return kv.value;
  const key = keyText(kv.key);
  const transformer = atRest.transformerFor(key);
  return transformer === undefined ? kv.value : transformer.fromStorage(kv.value, key).data;
}

/**
 * Whether a stored value is under an old key (or none) of its resource's configuration: an
 * update that changes nothing must still write it (Kubernetes' GuaranteedUpdate does the same
 * with its transformer's "stale"), which is how `bosun secrets rewrite` re-encrypts.
 */
export function isStaleValue(kv: { key: Uint8Array | string; value: Uint8Array }): boolean {
  if (atRest === null) return false;
  return atRest.transformerFor(keyText(kv.key))?.isStale(kv.value) ?? false;
}

/** Decodes a stored value and stamps its resourceVersion. */
export function decodeObject(kv: {
  key?: Uint8Array | string;
  value: Uint8Array;
  modRevision: number;
}): JsonObject {
  const v = plainValue(kv);
  // a view, not a copy
  const parsed: unknown = JSON.parse(
    Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("utf8"),
  );
  if (!isJsonObject(parsed)) throw new Error("stored object is not a JSON object");
  const meta = isJsonObject(parsed.metadata) ? parsed.metadata : {};
  parsed.metadata = { ...meta, resourceVersion: String(kv.modRevision) };
  return parsed;
}

/**
 * The stored form: everything but the resourceVersion (the store's revision says it), encrypted
 * when `storageKey`'s resource is configured for it (the key is the ciphertext's authenticated
 * data, so it is required for such resources).
 */
export function encodeObject(object: JsonObject, storageKey?: string): Buffer {
  const meta = isJsonObject(object.metadata) ? { ...object.metadata } : {};
  delete meta.resourceVersion;
  const json = Buffer.from(JSON.stringify({ ...object, metadata: meta }), "utf8");
  if (atRest === null || storageKey === undefined) return json;
  const transformer = atRest.transformerFor(storageKey);
  return transformer === undefined ? json : transformer.toStorage(json, storageKey);
}

/** `object` as written at `revision`: what a write answers with. */
export function withRevision(object: JsonObject, revision: number): JsonObject {
  const meta = isJsonObject(object.metadata) ? object.metadata : {};
  return { ...object, metadata: { ...meta, resourceVersion: String(revision) } };
}
