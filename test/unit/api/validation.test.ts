/**
 * Validation with Kubernetes field errors: pkg/api/validation/objectmeta.go and
 * pkg/apis/core|apps/validation, worded and pathed as the API server's 422 shows them.
 */
import { describe, expect, it } from "vitest";
import { applyDefaults } from "../../../actors/api/defaults.ts";
import { aggregateText, type FieldError, fieldErrorText } from "../../../actors/api/field-error.ts";
import type { JsonObject } from "../../../actors/api/json.ts";
import { initializeObjectMeta, validateObjectMeta } from "../../../actors/api/object-meta.ts";
import {
  POD_UPDATE_FORBIDDEN_DETAIL,
  validateCreate,
  validateUpdate,
} from "../../../actors/api/validation.ts";

const texts = (errs: FieldError[]) => errs.map(fieldErrorText);

const pod = (spec: JsonObject, name = "web"): JsonObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: "default" },
  spec,
});

describe("object meta", () => {
  it("names follow the resource's rule: pods are DNS-1123 subdomains, services DNS-1035 labels", () => {
    expect(
      validateCreate("Pod", pod({ containers: [{ name: "c", image: "i" }] }, "a.b-c")),
    ).toEqual([]);
    const errs = validateCreate("Service", {
      metadata: { name: "1svc", namespace: "default" },
      spec: { ports: [{ port: 80 }] },
    });
    expect(texts(errs)[0]).toMatch(
      /^metadata\.name: Invalid value: "1svc": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character/,
    );
  });

  it("a name or generateName is required; the namespace is required for namespaced kinds", () => {
    const errs = validateCreate("ConfigMap", { metadata: {} });
    expect(texts(errs)).toEqual([
      "metadata.name: Required value: name or generateName is required",
      "metadata.namespace: Required value",
    ]);
  });

  it("cluster-scoped kinds forbid a namespace", () => {
    expect(texts(validateCreate("Node", { metadata: { name: "n1", namespace: "x" } }))).toEqual([
      "metadata.namespace: Forbidden: not allowed on this type",
    ]);
  });

  it("namespaces are DNS-1123 labels (no dots)", () => {
    expect(texts(validateCreate("Namespace", { metadata: { name: "a.b" } }))[0]).toContain(
      'metadata.name: Invalid value: "a.b": a lowercase RFC 1123 label must consist of',
    );
  });

  it("label keys and values", () => {
    const errs = validateObjectMeta(
      { name: "x", labels: { "bad key": "v", ok: "bad value!" } },
      { namespaced: false, nameRule: "dns1123Subdomain" },
    );
    expect(texts(errs)).toEqual([
      "metadata.labels: Invalid value: \"bad key\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
      "metadata.labels: Invalid value: \"bad value!\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    ]);
  });

  it("annotations may total at most 256 KiB", () => {
    const errs = validateObjectMeta(
      { name: "x", annotations: { big: "x".repeat(256 * 1024) } },
      { namespaced: false, nameRule: "dns1123Subdomain" },
    );
    expect(texts(errs)).toEqual([
      "metadata.annotations: Too long: may not be more than 262144 bytes",
    ]);
  });

  it("name, namespace and uid may not change", () => {
    const old = { metadata: { name: "a", namespace: "default", uid: "1" }, data: {} };
    const errs = validateUpdate(
      "ConfigMap",
      { metadata: { name: "a", namespace: "default", uid: "2" } },
      old,
    );
    expect(texts(errs)).toEqual(['metadata.uid: Invalid value: "2": field is immutable']);
  });

  it("the registry sets uid, creationTimestamp, the generated name and generation", () => {
    expect(
      initializeObjectMeta(
        { generateName: "web-", resourceVersion: "5" },
        {
          uid: "u1",
          creationTimestamp: "2024-01-01T00:00:00Z",
          generateNameSuffix: "x7k2q",
          tracksGeneration: true,
        },
      ),
    ).toEqual({
      generateName: "web-",
      name: "web-x7k2q",
      uid: "u1",
      creationTimestamp: "2024-01-01T00:00:00Z",
      generation: 1,
    });
  });
});

describe("pods", () => {
  it("need at least one container", () => {
    expect(texts(validateCreate("Pod", pod({})))).toEqual(["spec.containers: Required value"]);
  });

  it("containers need a name and an image (the 422 message kubectl prints)", () => {
    const errs = validateCreate("Pod", pod({ containers: [{ name: "app" }] }));
    expect(aggregateText(errs)).toBe("spec.containers[0].image: Required value");
  });

  it("reports duplicates, unsupported policies, bad ports and unknown volumes", () => {
    const errs = validateCreate(
      "Pod",
      pod({
        restartPolicy: "Sometimes",
        containers: [
          {
            name: "a",
            image: "i",
            ports: [{ containerPort: 70000, protocol: "HTTP" }],
            volumeMounts: [{ name: "nope", mountPath: "/x" }],
          },
          { name: "a", image: "i", imagePullPolicy: "Maybe", env: [{ name: "1BAD" }] },
        ],
      }),
    );
    expect(texts(errs)).toEqual([
      "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
      'spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
      'spec.containers[0].volumeMounts[0].name: Not found: "nope"',
      'spec.containers[1].name: Duplicate value: "a"',
      'spec.containers[1].imagePullPolicy: Unsupported value: "Maybe": supported values: "Always", "IfNotPresent", "Never"',
      "spec.containers[1].env[0].name: Invalid value: \"1BAD\": a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')",
      'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
    ]);
  });

  it("a defaulted minimal pod is valid", () => {
    expect(
      validateCreate(
        "Pod",
        applyDefaults("Pod", pod({ containers: [{ name: "c", image: "nginx" }] })),
      ),
    ).toEqual([]);
  });

  it("updates may change images, lower activeDeadlineSeconds and add tolerations only", () => {
    const old = applyDefaults(
      "Pod",
      pod({
        containers: [{ name: "c", image: "nginx:1" }],
        tolerations: [{ key: "a", operator: "Exists" }],
      }),
    );
    const newer = JSON.parse(JSON.stringify(old)) as JsonObject;
    const spec = newer.spec as JsonObject;
    (spec.containers as JsonObject[])[0]!.image = "nginx:2";
    spec.activeDeadlineSeconds = 30;
    (spec.tolerations as JsonObject[]).push({ key: "b", operator: "Exists" });
    expect(validateUpdate("Pod", newer, old)).toEqual([]);

    spec.restartPolicy = "Never";
    expect(texts(validateUpdate("Pod", newer, old))).toEqual([
      `spec: Forbidden: ${POD_UPDATE_FORBIDDEN_DETAIL}`,
    ]);
  });
});

describe("services", () => {
  const svc = (spec: JsonObject): JsonObject => ({
    metadata: { name: "web", namespace: "default" },
    spec,
  });

  it("need ports unless headless or ExternalName; multiple ports need names", () => {
    expect(texts(validateCreate("Service", svc({})))).toEqual(["spec.ports: Required value"]);
    expect(validateCreate("Service", svc({ clusterIP: "None" }))).toEqual([]);
    expect(texts(validateCreate("Service", svc({ ports: [{ port: 80 }, { port: 81 }] })))).toEqual([
      "spec.ports[0].name: Required value",
      "spec.ports[1].name: Required value",
    ]);
  });

  it("reject unsupported types and duplicate ports", () => {
    expect(
      texts(
        validateCreate(
          "Service",
          svc({
            type: "Magic",
            ports: [
              { name: "a", port: 80 },
              { name: "b", port: 80 },
            ],
          }),
        ),
      ),
    ).toEqual([
      'spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
      'spec.ports[1]: Duplicate value: {"port":80,"protocol":"TCP"}',
    ]);
  });

  it("clusterIP may not change once set", () => {
    const old = svc({ clusterIP: "10.0.0.1", ports: [{ port: 80 }] });
    expect(
      texts(validateUpdate("Service", svc({ clusterIP: "10.0.0.2", ports: [{ port: 80 }] }), old)),
    ).toEqual(['spec.clusterIP: Invalid value: "10.0.0.2": field is immutable']);
  });
});

describe("deployments", () => {
  const deploy = (spec: JsonObject): JsonObject => ({
    metadata: { name: "web", namespace: "default" },
    spec,
  });
  const template = (labels: Record<string, string>) => ({
    metadata: { labels },
    spec: { containers: [{ name: "c", image: "nginx" }] },
  });

  it("need a selector that matches the template labels", () => {
    expect(
      texts(validateCreate("Deployment", deploy({ template: template({ app: "web" }) }))),
    ).toEqual(["spec.selector: Required value"]);
    expect(
      texts(
        validateCreate(
          "Deployment",
          deploy({ selector: { matchLabels: { app: "db" } }, template: template({ app: "web" }) }),
        ),
      ),
    ).toEqual([
      'spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`',
    ]);
  });

  it("templates must restart Always", () => {
    const t = template({ app: "web" });
    (t.spec as JsonObject).restartPolicy = "Never";
    expect(
      texts(
        validateCreate(
          "Deployment",
          deploy({ selector: { matchLabels: { app: "web" } }, template: t }),
        ),
      ),
    ).toEqual([
      'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
    ]);
  });

  it("the selector is immutable", () => {
    const old = deploy({
      selector: { matchLabels: { app: "web" } },
      template: template({ app: "web", v: "1" }),
    });
    const newer = deploy({
      selector: { matchLabels: { app: "web", v: "1" } },
      template: template({ app: "web", v: "1" }),
    });
    expect(texts(validateUpdate("Deployment", newer, old))).toEqual([
      'spec.selector: Invalid value: {"matchLabels":{"app":"web","v":"1"}}: field is immutable',
    ]);
  });
});

describe("configmaps and secrets", () => {
  it("data keys must be valid config keys", () => {
    expect(
      texts(
        validateCreate("ConfigMap", {
          metadata: { name: "c", namespace: "d" },
          data: { "a/b": "x" },
        }),
      )[0],
    ).toContain(
      "data[a/b]: Invalid value: \"a/b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
    );
  });
});
