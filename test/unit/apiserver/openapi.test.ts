/** The OpenAPI v3 documents kubectl reads (fieldValidation support, patch metadata, explain). */
import { describe, expect, it } from "vitest";
import { pruneUnknownFields } from "../../../actors/api/unknown-fields.ts";
import { openApiV3Document, openApiV3Paths } from "../../../actors/apiserver/openapi.ts";

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { parameters?: { name: string }[]; [k: string]: unknown }>>;
  components: { schemas: Record<string, { properties?: Record<string, Record<string, unknown>> }> };
};

describe("OpenAPI v3", () => {
  it("/openapi/v3 lists every served group version with a cacheable URL", () => {
    const { paths } = openApiV3Paths();
    expect(Object.keys(paths)).toEqual(
      expect.arrayContaining(["api/v1", "apis/apps/v1", "apis/coordination.k8s.io/v1"]),
    );
    expect(paths["apis/apps/v1"]?.serverRelativeURL).toMatch(
      /^\/openapi\/v3\/apis\/apps\/v1\?hash=[0-9a-f]+$/,
    );
    expect(openApiV3Document("networking.k8s.io", "v1")).toBeNull();
  });

  it("PATCH operations carry the GVK and the fieldValidation parameter (kubectl's verifier)", () => {
    const doc = openApiV3Document("apps", "v1") as Doc;
    expect(doc.openapi).toBe("3.0.0");
    const item = doc.paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"];
    expect(item?.patch?.["x-kubernetes-group-version-kind"]).toEqual({
      group: "apps",
      kind: "Deployment",
      version: "v1",
    });
    expect(item?.patch?.parameters?.map((p) => p.name)).toContain("fieldValidation");
    expect(item?.patch?.requestBody).toMatchObject({
      content: { "application/strategic-merge-patch+json": {} },
    });
  });

  it("schemas carry the GVK, merge keys and strategies, and resolve every $ref", () => {
    const doc = openApiV3Document("", "v1") as Doc;
    const schemas = doc.components.schemas;
    expect(schemas["io.k8s.api.core.v1.Pod"]).toMatchObject({
      "x-kubernetes-group-version-kind": [{ group: "", kind: "Pod", version: "v1" }],
    });
    expect(schemas["io.k8s.api.core.v1.PodSpec"]?.properties?.containers).toMatchObject({
      type: "array",
      "x-kubernetes-patch-merge-key": "name",
      "x-kubernetes-patch-strategy": "merge",
      description: expect.stringContaining("containers"),
    });
    const refs = JSON.stringify(doc).match(/#\/components\/schemas\/[\w.]+/g) ?? [];
    for (const r of refs) expect(schemas[r.slice("#/components/schemas/".length)]).toBeDefined();
  });
});

describe("pruneUnknownFields", () => {
  it("drops what the type does not have, keeps free-form parts", () => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      foo: 1,
      metadata: { name: "p", bar: 2, labels: { a: "b" } },
      spec: { containers: [{ name: "c", image: "i", imagee: "x", resources: { any: 1 } }] },
    };
    expect(pruneUnknownFields("Pod", pod)).toEqual({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p", labels: { a: "b" } },
      spec: { containers: [{ name: "c", image: "i", resources: { any: 1 } }] },
    });
    expect(pruneUnknownFields("Unknown", { x: 1 })).toEqual({ x: 1 });
  });
});
