/**
 * kube-apiserver's `--encryption-provider-config`: an `EncryptionConfiguration`
 * (apiserver.config.k8s.io/v1) naming, per resource, the providers that encrypt its stored
 * values (encryption-providers.ts). Parsed strictly: a bad file must stop the server, never
 * make it write Secrets in the clear.
 *
 *   apiVersion: apiserver.config.k8s.io/v1
 *   kind: EncryptionConfiguration
 *   resources:
 *     - resources: [secrets]
 *       providers:
 *         - aesgcm: {keys: [{name: key1, secret: <base64 of 32 random bytes>}]}
 *         - identity: {}
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { parse, stringify } from "yaml";
import {
  type EncryptionKey,
  type Provider,
  providersTransformer,
  type ValueTransformer,
} from "./encryption-providers.ts";
import { REGISTRY_PREFIX } from "./registry-keys.ts";

export const ENCRYPTION_CONFIG_API_VERSION = "apiserver.config.k8s.io/v1";
export const ENCRYPTION_CONFIG_KIND = "EncryptionConfiguration";
/** A fresh key's size: AES-256. */
export const ENCRYPTION_KEY_BYTES = 32;

export interface ResourceEncryption {
  resources: string[];
  providers: Provider[];
}

export interface EncryptionConfiguration {
  resources: ResourceEncryption[];
}

function fail(path: string, message: string): never {
  throw new Error(`EncryptionConfiguration ${path}: ${message}`);
}

function record(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    fail(path, "must be a mapping");
  return value as Record<string, unknown>;
}

function list(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value) || value.length === 0) fail(path, "must be a non-empty list");
  return value;
}

function parseKeys(value: unknown, path: string, sizes: readonly number[]): EncryptionKey[] {
  const keys = list(record(value, path).keys, `${path}.keys`).map((k, i) => {
    const key = record(k, `${path}.keys[${i}]`);
    if (typeof key.name !== "string" || key.name.length === 0 || key.name.includes(":"))
      fail(`${path}.keys[${i}].name`, "must be a non-empty name without ':'");
    if (typeof key.secret !== "string" || !/^[A-Za-z0-9+/]+={0,2}$/.test(key.secret))
      fail(`${path}.keys[${i}].secret`, "must be base64");
    const secret = Buffer.from(key.secret, "base64");
    if (!sizes.includes(secret.length))
      fail(`${path}.keys[${i}].secret`, `must be ${sizes.join(", ")} bytes, got ${secret.length}`);
    return { name: key.name, secret };
  });
  const names = new Set(keys.map((k) => k.name));
  if (names.size !== keys.length) fail(`${path}.keys`, "key names must be unique");
  return keys;
}

function parseProvider(value: unknown, path: string): Provider {
  const entry = record(value, path);
  const kinds = Object.keys(entry);
  if (kinds.length !== 1) fail(path, "must name exactly one provider");
  const kind = kinds[0] as string;
  switch (kind) {
    case "aesgcm":
      return { kind, keys: parseKeys(entry.aesgcm, `${path}.aesgcm`, [16, 24, 32]) };
    case "aescbc":
      return { kind, keys: parseKeys(entry.aescbc, `${path}.aescbc`, [32]) };
    case "identity":
      return { kind };
    case "secretbox":
      return fail(
        path,
        "secretbox is not supported (no XSalsa20 in node:crypto): use aesgcm or aescbc",
      );
    default:
      return fail(path, `unsupported provider '${kind}' (aesgcm, aescbc, identity)`);
  }
}

export function parseEncryptionConfiguration(text: string): EncryptionConfiguration {
  const doc = record(parse(text) as unknown, "document");
  if (doc.apiVersion !== ENCRYPTION_CONFIG_API_VERSION)
    fail("apiVersion", `must be ${ENCRYPTION_CONFIG_API_VERSION}`);
  if (doc.kind !== ENCRYPTION_CONFIG_KIND) fail("kind", `must be ${ENCRYPTION_CONFIG_KIND}`);
  const resources = list(doc.resources, "resources").map((r, i) => {
    const entry = record(r, `resources[${i}]`);
    const names = list(entry.resources, `resources[${i}].resources`).map((n, j) => {
      if (typeof n !== "string" || !/^[a-z0-9-]+(\.[a-z0-9.-]+)?$/.test(n))
        fail(
          `resources[${i}].resources[${j}]`,
          "must be a resource such as secrets or deployments.apps (no wildcards)",
        );
      return n;
    });
    const providers = list(entry.providers, `resources[${i}].providers`).map((p, j) =>
      parseProvider(p, `resources[${i}].providers[${j}]`),
    );
    return { resources: names, providers };
  });
  return { resources };
}

export function loadEncryptionConfiguration(file: string): EncryptionConfiguration {
  return parseEncryptionConfiguration(readFileSync(file, "utf8"));
}

/** `/registry/core/secrets/` for `secrets`, `/registry/apps/deployments/` for `deployments.apps`. */
export function resourceStoragePrefix(resource: string): string {
  const dot = resource.indexOf(".");
  const plural = dot < 0 ? resource : resource.slice(0, dot);
  const group = dot < 0 ? "core" : resource.slice(dot + 1);
  return `${REGISTRY_PREFIX}${group}/${plural}/`;
}

/** The transformers of a configuration, found by storage key. */
export class EncryptionAtRest {
  private readonly byPrefix: [string, ValueTransformer][] = [];

  constructor(readonly config: EncryptionConfiguration) {
    for (const entry of config.resources) {
      const transformer = providersTransformer(entry.providers);
      for (const resource of entry.resources) {
        const prefix = resourceStoragePrefix(resource);
        // Kubernetes: the first entry naming a resource wins
        if (!this.byPrefix.some(([p]) => p === prefix)) this.byPrefix.push([prefix, transformer]);
      }
    }
  }

  transformerFor(storageKey: string): ValueTransformer | undefined {
    return this.byPrefix.find(([prefix]) => storageKey.startsWith(prefix))?.[1];
  }
}

/** A key named `name` of fresh random bytes, base64 as the file holds it. */
export function newEncryptionKey(name: string): { name: string; secret: string } {
  return { name, secret: randomBytes(ENCRYPTION_KEY_BYTES).toString("base64") };
}

/**
 * The file `bosun up` writes and `bosun secrets rotate-key` rewrites: Secrets under aesgcm with
 * `keys` (the first writes), then identity, so values written before encryption still read.
 */
export function renderSecretsEncryptionConfiguration(
  keys: readonly { name: string; secret: string }[],
): string {
  return stringify({
    apiVersion: ENCRYPTION_CONFIG_API_VERSION,
    kind: ENCRYPTION_CONFIG_KIND,
    resources: [{ resources: ["secrets"], providers: [{ aesgcm: { keys } }, { identity: {} }] }],
  });
}

/** The aesgcm keys of the Secrets entry, as the file holds them (for rotation). */
export function secretsKeysOf(text: string): { name: string; secret: string }[] {
  const doc = parse(text) as {
    resources?: {
      resources?: string[];
      providers?: { aesgcm?: { keys?: { name: string; secret: string }[] } }[];
    }[];
  };
  const entry = doc.resources?.find((r) => r.resources?.includes("secrets"));
  return entry?.providers?.find((p) => p.aesgcm)?.aesgcm?.keys ?? [];
}
