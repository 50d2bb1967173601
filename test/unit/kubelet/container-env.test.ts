/**
 * A container's environment, command and args as the kubelet makes them: envFrom (prefix,
 * optional, invalid names skipped), valueFrom (fieldRef, resourceFieldRef, configMapKeyRef,
 * secretKeyRef, optional), `$(VAR)` expansion with Kubernetes' rules, and
 * CreateContainerConfigError's messages for a missing required reference.
 */
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import {
  ContainerConfigError,
  type ContainerConfigInput,
  envReferences,
  expandVariables,
  resolveContainerConfig,
} from "../../../actors/kubelet/container-env.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const CONFIG: JsonObject = {
  metadata: { name: "special-config" },
  data: { "special.how": "very", SPECIAL_LEVEL: "high", "1bad": "x" },
};
const SECRET: JsonObject = { metadata: { name: "creds" }, data: { password: b64("s3cr3t") } };

function input(container: JsonObject, pod: JsonObject = {}): ContainerConfigInput {
  return {
    pod: {
      metadata: { name: "web", namespace: "shop", uid: "u1", labels: { app: "web" } },
      spec: { containers: [container] },
      ...pod,
    },
    container,
    podIP: "127.200.0.5",
    hostIP: "127.0.0.11",
    nodeName: "n1",
    nodeAllocatable: { cpu: "2", memory: "4Gi" },
    sources: {
      configMaps: new Map([
        ["special-config", CONFIG],
        ["gone", null],
      ]),
      secrets: new Map([["creds", SECRET]]),
    },
  };
}

describe("expandVariables (Kubernetes' third_party expansion)", () => {
  const env: Record<string, string> = { A: "1", B: "two" };
  const lookup = (n: string) => env[n];
  it.each([
    ["$(A)-$(B)", "1-two"],
    ["$(UNKNOWN)", "$(UNKNOWN)"],
    ["$$(A)", "$(A)"],
    ["$$$(A)", "$1"],
    ["$A $", "$A $"],
    ["$(A", "$(A"],
    ["echo $(A)$(A)", "echo 11"],
    ["$()", "$()"],
  ])("%s → %s", (text, expected) => expect(expandVariables(text, lookup)).toBe(expected));
});

describe("resolveContainerConfig", () => {
  it("envFrom a ConfigMap and a Secret with a prefix; invalid names skipped and said", () => {
    const config = resolveContainerConfig(
      input({
        name: "c",
        envFrom: [
          { configMapRef: { name: "special-config" } },
          { secretRef: { name: "creds" }, prefix: "DB_" },
        ],
      }),
    );
    expect(config.env).toMatchObject({
      "special.how": "very",
      SPECIAL_LEVEL: "high",
      DB_password: "s3cr3t",
      POD_NAME: "web",
    });
    expect(config.env["1bad"]).toBeUndefined();
    expect(config.warnings).toEqual([
      "Keys [1bad] from the EnvFrom configmap shop/special-config were skipped since they are considered invalid environment variable names.",
    ]);
  });

  it("configMapKeyRef, secretKeyRef, fieldRef, resourceFieldRef; later definitions win", () => {
    const config = resolveContainerConfig(
      input({
        name: "c",
        resources: { limits: { memory: "64Mi" }, requests: { cpu: "250m" } },
        env: [
          {
            name: "LEVEL",
            valueFrom: { configMapKeyRef: { name: "special-config", key: "SPECIAL_LEVEL" } },
          },
          { name: "PASSWORD", valueFrom: { secretKeyRef: { name: "creds", key: "password" } } },
          { name: "MY_POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
          { name: "APP", valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
          { name: "NODE_IP", valueFrom: { fieldRef: { fieldPath: "status.hostIP" } } },
          {
            name: "MEM_MI",
            valueFrom: { resourceFieldRef: { resource: "limits.memory", divisor: "1Mi" } },
          },
          {
            name: "CPU_M",
            valueFrom: { resourceFieldRef: { resource: "requests.cpu", divisor: "1m" } },
          },
          { name: "CPU_LIMIT", valueFrom: { resourceFieldRef: { resource: "limits.cpu" } } },
          { name: "GREETING", value: "level $(LEVEL) for $(MY_POD), $(NOPE)" },
          { name: "LEVEL", value: "overridden" },
        ],
      }),
    );
    expect(config.env).toMatchObject({
      LEVEL: "overridden",
      PASSWORD: "s3cr3t",
      MY_POD: "web",
      APP: "web",
      NODE_IP: "127.0.0.11",
      MEM_MI: "64",
      CPU_M: "250",
      CPU_LIMIT: "2",
      GREETING: "level high for web, $(NOPE)",
    });
  });

  it("expands command and args against the final environment", () => {
    const config = resolveContainerConfig(
      input({
        name: "c",
        command: ["/bin/echo", "$(MSG)"],
        args: ["$$(MSG)", "$(MISSING)"],
        env: [{ name: "MSG", value: "hello" }],
      }),
    );
    expect(config.command).toEqual(["/bin/echo", "hello"]);
    expect(config.args).toEqual(["$(MSG)", "$(MISSING)"]);
  });

  it("a missing required reference is a CreateContainerConfigError; optional ones are skipped", () => {
    const fail = (container: JsonObject) => () =>
      resolveContainerConfig(input({ name: "c", ...container }));
    expect(fail({ envFrom: [{ configMapRef: { name: "gone" } }] })).toThrow(
      new ContainerConfigError('configmap "gone" not found'),
    );
    expect(
      fail({ env: [{ name: "X", valueFrom: { secretKeyRef: { name: "nope", key: "k" } } }] }),
    ).toThrow('secret "nope" not found');
    expect(
      fail({
        env: [
          { name: "X", valueFrom: { configMapKeyRef: { name: "special-config", key: "missing" } } },
        ],
      }),
    ).toThrow("couldn't find key missing in ConfigMap shop/special-config");
    const optional = resolveContainerConfig(
      input({
        name: "c",
        envFrom: [{ configMapRef: { name: "gone", optional: true } }],
        env: [
          {
            name: "X",
            valueFrom: {
              configMapKeyRef: { name: "special-config", key: "missing", optional: true },
            },
          },
          { name: "Y", valueFrom: { secretKeyRef: { name: "nope", key: "k", optional: true } } },
        ],
      }),
    );
    expect(optional.env.X).toBeUndefined();
    expect(optional.env.Y).toBeUndefined();
  });

  it("envReferences names every ConfigMap and Secret to fetch, once", () => {
    expect(
      envReferences({
        envFrom: [{ configMapRef: { name: "a" } }, { secretRef: { name: "s" } }],
        env: [
          { name: "X", valueFrom: { configMapKeyRef: { name: "a", key: "k" } } },
          { name: "Y", valueFrom: { configMapKeyRef: { name: "b", key: "k" } } },
        ],
      }),
    ).toEqual({ configMaps: ["a", "b"], secrets: ["s"] });
  });
});
