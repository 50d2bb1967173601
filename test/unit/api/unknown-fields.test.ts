/** Unknown-field detection for fieldValidation=Strict|Warn (the strict decoder's paths). */
import { describe, expect, it } from "vitest";
import {
  strictDecodingMessage,
  unknownFieldMessage,
  unknownFields,
} from "../../../actors/api/unknown-fields.ts";

describe("unknownFields", () => {
  it("finds misspelled fields at any depth, with list indices", () => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "x", labels: { any: "thing" }, lables: {} },
      spec: {
        containers: [
          { name: "c", image: "i", imagee: "typo", ports: [{ containerPort: 80, protocl: "TCP" }] },
        ],
        foo: 1,
      },
    };
    expect(unknownFields("Pod", pod)).toEqual([
      "metadata.lables",
      "spec.containers[0].imagee",
      "spec.containers[0].ports[0].protocl",
      "spec.foo",
    ]);
  });

  it("accepts a complete deployment and free-form maps", () => {
    const d = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", annotations: { "a/b": "c" } },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: "web" } },
        strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1 } },
        template: {
          metadata: { labels: { app: "web" } },
          spec: {
            containers: [
              {
                name: "web",
                image: "nginx",
                env: [{ name: "A", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
                resources: { limits: { cpu: "1" } },
                volumeMounts: [{ name: "v", mountPath: "/v" }],
              },
            ],
            volumes: [{ name: "v", configMap: { name: "cm" } }],
            nodeSelector: { disk: "ssd" },
          },
        },
      },
      status: { replicas: 2, conditions: [{ type: "Available" }] },
    };
    expect(unknownFields("Deployment", d)).toEqual([]);
  });

  it("reports top-level strays for configmaps; unknown kinds report nothing", () => {
    expect(unknownFields("ConfigMap", { data: { a: "b" }, spec: {} })).toEqual(["spec"]);
    expect(unknownFields("Widget", { anything: 1 })).toEqual([]);
  });

  it("formats the messages Kubernetes returns", () => {
    expect(unknownFieldMessage("spec.foo")).toBe('unknown field "spec.foo"');
    expect(strictDecodingMessage("Pod", "v1", ["spec.foo", "spec.bar"])).toBe(
      'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.foo", unknown field "spec.bar"',
    );
  });
});
