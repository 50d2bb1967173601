/**
 * Encryption at rest of stored values (kube-apiserver's `value.Transformer`s), in Kubernetes'
 * own stored format so the layout reads the same in an etcd dump:
 *
 *   aesgcm:  "k8s:enc:aesgcm:v1:<key name>:" | nonce (12) | ciphertext | tag (16)
 *            AES-GCM, the storage key as additional authenticated data (a value moved to
 *            another key does not decrypt)
 *   aescbc:  "k8s:enc:aescbc:v1:<key name>:" | iv (16) | ciphertext (PKCS#7)
 *   identity: the value as is, no prefix
 *
 * `secretbox` (XSalsa20-Poly1305) is not offered: node:crypto has no XSalsa20 and bosun has no
 * NaCl dependency. A provider list works as Kubernetes' does: the first provider writes, every
 * provider reads the values with its prefix (keys by name), and a value no provider claims is
 * an error, unless `identity` is listed (then unprefixed values read as plain).
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

export interface EncryptionKey {
  name: string;
  /** Raw key bytes (the configuration holds them base64). */
  secret: Buffer;
}

export type Provider =
  | { kind: "aesgcm"; keys: EncryptionKey[] }
  | { kind: "aescbc"; keys: EncryptionKey[] }
  | { kind: "identity" };

/** What a read learned besides the plaintext: whether a rewrite would store it differently. */
export interface ReadValue {
  data: Buffer;
  /** Not written by the first provider's first key: `bosun secrets rewrite` should rewrite it. */
  stale: boolean;
}

export interface ValueTransformer {
  toStorage(data: Buffer, storageKey: string): Buffer;
  fromStorage(stored: Uint8Array, storageKey: string): ReadValue;
  /** Whether `stored` was written otherwise than a write now would (by its prefix alone). */
  isStale(stored: Uint8Array): boolean;
}

const GCM_NONCE_BYTES = 12;
const GCM_TAG_BYTES = 16;
const CBC_IV_BYTES = 16;

export function providerPrefix(kind: "aesgcm" | "aescbc", keyName: string): string {
  return `k8s:enc:${kind}:v1:${keyName}:`;
}

function gcmAlgorithm(secret: Buffer): "aes-128-gcm" | "aes-192-gcm" | "aes-256-gcm" {
  if (secret.length === 16) return "aes-128-gcm";
  if (secret.length === 24) return "aes-192-gcm";
  if (secret.length === 32) return "aes-256-gcm";
  throw new Error(`aesgcm keys are 16, 24 or 32 bytes, got ${secret.length}`);
}

function sealGcm(key: EncryptionKey, data: Buffer, storageKey: string): Buffer {
  const nonce = randomBytes(GCM_NONCE_BYTES);
  const cipher = createCipheriv(gcmAlgorithm(key.secret), key.secret, nonce);
  cipher.setAAD(Buffer.from(storageKey, "utf8"));
  const body = Buffer.concat([cipher.update(data), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

function openGcm(key: EncryptionKey, sealed: Buffer, storageKey: string): Buffer {
  if (sealed.length < GCM_NONCE_BYTES + GCM_TAG_BYTES) throw new Error("aesgcm value too short");
  const nonce = sealed.subarray(0, GCM_NONCE_BYTES);
  const tag = sealed.subarray(sealed.length - GCM_TAG_BYTES);
  const decipher = createDecipheriv(gcmAlgorithm(key.secret), key.secret, nonce);
  decipher.setAAD(Buffer.from(storageKey, "utf8"));
  decipher.setAuthTag(tag);
  const body = sealed.subarray(GCM_NONCE_BYTES, sealed.length - GCM_TAG_BYTES);
  return Buffer.concat([decipher.update(body), decipher.final()]);
}

function sealCbc(key: EncryptionKey, data: Buffer): Buffer {
  const iv = randomBytes(CBC_IV_BYTES);
  const cipher = createCipheriv("aes-256-cbc", key.secret, iv);
  return Buffer.concat([iv, cipher.update(data), cipher.final()]);
}

function openCbc(key: EncryptionKey, sealed: Buffer): Buffer {
  if (sealed.length < 2 * CBC_IV_BYTES) throw new Error("aescbc value too short");
  const decipher = createDecipheriv("aes-256-cbc", key.secret, sealed.subarray(0, CBC_IV_BYTES));
  return Buffer.concat([decipher.update(sealed.subarray(CBC_IV_BYTES)), decipher.final()]);
}

/** The transformer of one resource's provider list. */
export function providersTransformer(providers: readonly Provider[]): ValueTransformer {
  const first = providers[0];
  if (first === undefined) throw new Error("an encryption provider list must not be empty");
  const readsPlain = providers.some((p) => p.kind === "identity");
  const writePrefix = Buffer.from(
    first.kind === "identity"
      ? ""
      : providerPrefix(first.kind, (first.keys[0] as EncryptionKey).name),
    "utf8",
  );
  return {
    isStale(stored) {
      const head = Buffer.from(stored.buffer, stored.byteOffset, Math.min(stored.byteLength, 80));
      if (first.kind === "identity")
        return head.subarray(0, ENCRYPTED_MARK.length).equals(ENCRYPTED_MARK);
      return !head.subarray(0, writePrefix.length).equals(writePrefix);
    },
    toStorage(data, storageKey) {
      if (first.kind === "identity") return data;
      const key = first.keys[0] as EncryptionKey;
      const sealed = first.kind === "aesgcm" ? sealGcm(key, data, storageKey) : sealCbc(key, data);
      return Buffer.concat([Buffer.from(providerPrefix(first.kind, key.name), "utf8"), sealed]);
    },
    fromStorage(stored, storageKey) {
      const value = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
      for (const [p, provider] of providers.entries()) {
        if (provider.kind === "identity") continue;
        for (const [k, key] of provider.keys.entries()) {
          const prefix = Buffer.from(providerPrefix(provider.kind, key.name), "utf8");
          if (!value.subarray(0, prefix.length).equals(prefix)) continue;
          const sealed = value.subarray(prefix.length);
          const data =
            provider.kind === "aesgcm" ? openGcm(key, sealed, storageKey) : openCbc(key, sealed);
          return { data, stale: p !== 0 || k !== 0 };
        }
      }
      if (value.subarray(0, ENCRYPTED_MARK.length).equals(ENCRYPTED_MARK)) {
        const name = value.subarray(0, 64).toString("utf8").split(":").slice(2, 5).join(":");
        throw new Error(`stored value is encrypted (${name}) with a key no provider has`);
      }
      if (!readsPlain) throw new Error("stored value is not encrypted and identity is not listed");
      return { data: value, stale: first.kind !== "identity" };
    },
  };
}

/** Every encrypted value starts so; plaintext JSON starts with `{`. */
const ENCRYPTED_MARK = Buffer.from("k8s:enc:", "utf8");
