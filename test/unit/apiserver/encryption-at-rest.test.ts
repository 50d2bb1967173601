/**
 * Encryption at rest, per Kubernetes' documented semantics
 * (https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/): the first provider's
 * first key writes, every listed key reads, `identity` reads what was stored before encryption,
 * and a value no provider can read is an error, never served as garbage.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  EncryptionAtRest,
  newEncryptionKey,
  parseEncryptionConfiguration,
  renderSecretsEncryptionConfiguration,
  secretsKeysOf,
} from "../../../actors/apiserver/encryption-config.ts";
import {
  decodeObject,
  encodeObject,
  isStaleValue,
  useEncryptionAtRest,
} from "../../../actors/apiserver/storage-codec.ts";

const SECRET_KEY = "/registry/core/secrets/default/db";
const CONFIGMAP_KEY = "/registry/core/configmaps/default/db";
const secret = {
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "db", namespace: "default", resourceVersion: "7" },
  data: { password: Buffer.from("hunter2-distinctive").toString("base64") },
};

function atRest(keys: { name: string; secret: string }[]): EncryptionAtRest {
  return new EncryptionAtRest(
    parseEncryptionConfiguration(renderSecretsEncryptionConfiguration(keys)),
  );
}

afterEach(() => useEncryptionAtRest(null));

describe("EncryptionConfiguration: aesgcm for secrets, identity fallback", () => {
  const k1 = newEncryptionKey("k1");
  const k2 = newEncryptionKey("k2");

  it("stores a Secret as k8s:enc:aesgcm:v1:<key>: with no plaintext, and reads it back", () => {
    useEncryptionAtRest(atRest([k1]));
    const stored = encodeObject(secret, SECRET_KEY);
    expect(stored.subarray(0, 21).toString()).toBe("k8s:enc:aesgcm:v1:k1:");
    expect(stored.includes(Buffer.from(secret.data.password))).toBe(false);
    expect(stored.includes(Buffer.from("hunter2"))).toBe(false);
    const read = decodeObject({ key: SECRET_KEY, value: stored, modRevision: 9 });
    expect(read).toEqual({ ...secret, metadata: { ...secret.metadata, resourceVersion: "9" } });
  });

  it("leaves resources the configuration does not name in plain JSON", () => {
    useEncryptionAtRest(atRest([k1]));
    const stored = encodeObject({ ...secret, kind: "ConfigMap" }, CONFIGMAP_KEY);
    expect(stored.toString()).toContain(secret.data.password);
  });

  it("rotation: the first key writes, every key reads; a removed key's values do not read", () => {
    useEncryptionAtRest(atRest([k1]));
    const underK1 = encodeObject(secret, SECRET_KEY);
    useEncryptionAtRest(atRest([k2, k1]));
    const underK2 = encodeObject(secret, SECRET_KEY);
    expect(underK2.subarray(0, 21).toString()).toBe("k8s:enc:aesgcm:v1:k2:");
    expect(decodeObject({ key: SECRET_KEY, value: underK1, modRevision: 1 }).data).toEqual(
      secret.data,
    );
    useEncryptionAtRest(atRest([k2]));
    expect(decodeObject({ key: SECRET_KEY, value: underK2, modRevision: 1 }).data).toEqual(
      secret.data,
    );
    expect(() => decodeObject({ key: SECRET_KEY, value: underK1, modRevision: 1 })).toThrow(
      /encrypted .*with a key no provider has/,
    );
  });

  it("marks a value stale when a write now would use another key, so a rewrite re-encrypts it", () => {
    const plain = encodeObject(secret, SECRET_KEY);
    useEncryptionAtRest(atRest([k1]));
    const underK1 = encodeObject(secret, SECRET_KEY);
    expect(isStaleValue({ key: SECRET_KEY, value: plain })).toBe(true);
    expect(isStaleValue({ key: SECRET_KEY, value: underK1 })).toBe(false);
    expect(isStaleValue({ key: CONFIGMAP_KEY, value: plain })).toBe(false);
    useEncryptionAtRest(atRest([k2, k1]));
    expect(isStaleValue({ key: SECRET_KEY, value: underK1 })).toBe(true);
    expect(isStaleValue({ key: SECRET_KEY, value: encodeObject(secret, SECRET_KEY) })).toBe(false);
  });

  it("reads values stored before encryption through identity", () => {
    const plain = encodeObject(secret, SECRET_KEY);
    useEncryptionAtRest(atRest([k1]));
    expect(decodeObject({ key: SECRET_KEY, value: plain, modRevision: 1 }).data).toEqual(
      secret.data,
    );
  });

  it("binds a value to its key: a ciphertext copied under another Secret's key is refused", () => {
    useEncryptionAtRest(atRest([k1]));
    const stored = encodeObject(secret, SECRET_KEY);
    expect(() =>
      decodeObject({ key: "/registry/core/secrets/default/other", value: stored, modRevision: 1 }),
    ).toThrow(/unable to authenticate|auth/i);
  });

  it("aescbc reads and writes too; without identity a plaintext value is an error", () => {
    const cbcKey = newEncryptionKey("c1");
    useEncryptionAtRest(
      new EncryptionAtRest(
        parseEncryptionConfiguration(`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - aescbc: {keys: [{name: c1, secret: "${cbcKey.secret}"}]}
`),
      ),
    );
    const stored = encodeObject(secret, SECRET_KEY);
    expect(stored.subarray(0, 21).toString()).toBe("k8s:enc:aescbc:v1:c1:");
    expect(decodeObject({ key: SECRET_KEY, value: stored, modRevision: 1 }).data).toEqual(
      secret.data,
    );
    const plain = Buffer.from(JSON.stringify(secret));
    expect(() => decodeObject({ key: SECRET_KEY, value: plain, modRevision: 1 })).toThrow(
      /identity is not listed/,
    );
  });

  it("keeps the keys of a rendered file for rotation", () => {
    expect(secretsKeysOf(renderSecretsEncryptionConfiguration([k2, k1]))).toEqual([k2, k1]);
  });
});

describe("EncryptionConfiguration: a bad file is refused, naming the field", () => {
  const wrap = (providers: string) => `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
${providers}`;

  it.each([
    ["      - secretbox: {keys: [{name: a, secret: AAAA}]}", /secretbox is not supported/],
    ["      - aesgcm: {keys: [{name: a, secret: AAAA}]}", /must be 16, 24, 32 bytes, got 3/],
    ["      - aesgcm: {keys: []}", /keys: must be a non-empty list/],
    ["      - kms: {name: x}", /unsupported provider 'kms'/],
    ["      - aesgcm: {keys: [{name: 'a:b', secret: AAAA}]}", /name: must be a non-empty name/],
  ])("%s", (providers, message) => {
    expect(() => parseEncryptionConfiguration(wrap(providers))).toThrow(message);
  });

  it("refuses another kind", () => {
    expect(() =>
      parseEncryptionConfiguration("apiVersion: apiserver.config.k8s.io/v1\nkind: Other\n"),
    ).toThrow(/kind: must be EncryptionConfiguration/);
  });
});
