/**
 * Strategic merge patch on the built-in types, after apimachinery
 * pkg/util/strategicpatch/patch.go and the SMP design docs (strategic-merge-patch.md,
 * preserve-order-in-strategic-merge-patch.md). Merge keys come from the Go struct tags.
 */
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import {
  applyStrategicMergePatch,
  StrategicMergePatchError,
} from "../../../actors/api/strategic-merge-patch.ts";

const pod = (spec: JsonObject, metadata: JsonObject = { name: "p" }): JsonObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata,
  spec,
});
const names = (list: unknown) => (list as JsonObject[]).map((c) => c.name);

describe("lists merged by key (patchStrategy merge)", () => {
  const live = pod({
    containers: [
      {
        name: "app",
        image: "app:1",
        env: [
          { name: "A", value: "1" },
          { name: "B", value: "2" },
        ],
      },
      { name: "sidecar", image: "proxy:1" },
    ],
  });

  it("containers merge by name: matching items merge, new items are appended", () => {
    const out = applyStrategicMergePatch(
      live,
      {
        spec: {
          containers: [
            { name: "sidecar", image: "proxy:2" },
            { name: "debug", image: "busybox" },
          ],
        },
      },
      "Pod",
    );
    const containers = (out.spec as JsonObject).containers as JsonObject[];
    expect(names(containers)).toEqual(["app", "sidecar", "debug"]);
    expect(containers[1]).toEqual({ name: "sidecar", image: "proxy:2" });
    expect(containers[0]!.image).toBe("app:1");
  });

  it("env merges by name inside a merged container", () => {
    const out = applyStrategicMergePatch(
      live,
      {
        spec: {
          containers: [
            {
              name: "app",
              env: [
                { name: "B", value: "two" },
                { name: "C", value: "3" },
              ],
            },
          ],
        },
      },
      "Pod",
    );
    const app = ((out.spec as JsonObject).containers as JsonObject[])[0]!;
    expect(app.env).toEqual([
      { name: "A", value: "1" },
      { name: "B", value: "two" },
      { name: "C", value: "3" },
    ]);
  });

  it("$patch: delete removes the item with that key", () => {
    const out = applyStrategicMergePatch(
      live,
      { spec: { containers: [{ name: "sidecar", $patch: "delete" }] } },
      "Pod",
    );
    expect(names((out.spec as JsonObject).containers)).toEqual(["app"]);
  });

  it("{$patch: replace} as a list item replaces the whole list with the other items", () => {
    const out = applyStrategicMergePatch(
      live,
      { spec: { containers: [{ $patch: "replace" }, { name: "only", image: "x" }] } },
      "Pod",
    );
    expect((out.spec as JsonObject).containers).toEqual([{ name: "only", image: "x" }]);
  });

  it("container ports merge by containerPort", () => {
    const base = pod({
      containers: [{ name: "c", image: "i", ports: [{ containerPort: 80, name: "http" }] }],
    });
    const out = applyStrategicMergePatch(
      base,
      {
        spec: {
          containers: [
            { name: "c", ports: [{ containerPort: 80, protocol: "TCP" }, { containerPort: 443 }] },
          ],
        },
      },
      "Pod",
    );
    const c = ((out.spec as JsonObject).containers as JsonObject[])[0]!;
    expect(c.ports).toEqual([
      { containerPort: 80, name: "http", protocol: "TCP" },
      { containerPort: 443 },
    ]);
  });

  it("volumes merge by name, and $retainKeys drops the old volume source", () => {
    const base = pod({
      containers: [],
      volumes: [
        { name: "v", emptyDir: {} },
        { name: "w", emptyDir: {} },
      ],
    });
    const out = applyStrategicMergePatch(
      base,
      {
        spec: {
          volumes: [{ name: "v", $retainKeys: ["configMap", "name"], configMap: { name: "cm" } }],
        },
      },
      "Pod",
    );
    expect((out.spec as JsonObject).volumes).toEqual([
      { name: "v", configMap: { name: "cm" } },
      { name: "w", emptyDir: {} },
    ]);
  });

  it("volumeMounts merge by mountPath", () => {
    const base = pod({
      containers: [{ name: "c", volumeMounts: [{ name: "a", mountPath: "/a" }] }],
    });
    const out = applyStrategicMergePatch(
      base,
      {
        spec: {
          containers: [
            {
              name: "c",
              volumeMounts: [
                { mountPath: "/a", readOnly: true },
                { name: "b", mountPath: "/b" },
              ],
            },
          ],
        },
      },
      "Pod",
    );
    const c = ((out.spec as JsonObject).containers as JsonObject[])[0]!;
    expect(c.volumeMounts).toEqual([
      { name: "a", mountPath: "/a", readOnly: true },
      { name: "b", mountPath: "/b" },
    ]);
  });

  it("service ports merge by port; status conditions by type", () => {
    const svc = { kind: "Service", spec: { ports: [{ port: 80, targetPort: 8080 }] } };
    const out = applyStrategicMergePatch(
      svc,
      { spec: { ports: [{ port: 80, name: "http" }, { port: 81 }] } },
      "Service",
    );
    expect((out.spec as JsonObject).ports).toEqual([
      { port: 80, targetPort: 8080, name: "http" },
      { port: 81 },
    ]);
    const p = {
      status: {
        conditions: [
          { type: "Ready", status: "False" },
          { type: "PodScheduled", status: "True" },
        ],
      },
    };
    const out2 = applyStrategicMergePatch(
      p,
      { status: { conditions: [{ type: "Ready", status: "True" }] } },
      "Pod",
    );
    expect((out2.status as JsonObject).conditions).toEqual([
      { type: "Ready", status: "True" },
      { type: "PodScheduled", status: "True" },
    ]);
  });

  it("ownerReferences merge by uid; without $setElementOrder a new item lands before live-only ones", () => {
    // mergeSortedSlice takes the patch item when it cannot place it in the live order: the
    // Kubernetes docs' "update-api-object-kubectl-patch" shows the added container first too.
    const base = { metadata: { ownerReferences: [{ uid: "1", name: "a" }] } };
    const out = applyStrategicMergePatch(
      base,
      { metadata: { ownerReferences: [{ uid: "2", name: "b" }] } },
      "Pod",
    );
    expect((out.metadata as JsonObject).ownerReferences).toEqual([
      { uid: "2", name: "b" },
      { uid: "1", name: "a" },
    ]);
  });

  it("a merge-keyed item without its key is an error", () => {
    expect(() =>
      applyStrategicMergePatch(live, { spec: { containers: [{ image: "x" }] } }, "Pod"),
    ).toThrow("does not contain declared merge key: name");
  });
});

describe("lists without a merge strategy are replaced", () => {
  it("tolerations, command and args are atomic", () => {
    const base = pod({
      tolerations: [{ key: "a", operator: "Exists" }],
      containers: [{ name: "c", command: ["sh", "-c"], args: ["x"] }],
    });
    const out = applyStrategicMergePatch(
      base,
      {
        spec: {
          tolerations: [{ key: "b", operator: "Exists" }],
          containers: [{ name: "c", args: ["y"] }],
        },
      },
      "Pod",
    );
    const spec = out.spec as JsonObject;
    expect(spec.tolerations).toEqual([{ key: "b", operator: "Exists" }]);
    expect((spec.containers as JsonObject[])[0]).toEqual({
      name: "c",
      command: ["sh", "-c"],
      args: ["y"],
    });
  });
});

describe("primitive lists with merge strategy (finalizers)", () => {
  const base = { metadata: { name: "x", finalizers: ["a", "b", "c"] } };

  it("merge as a set union", () => {
    const out = applyStrategicMergePatch(base, { metadata: { finalizers: ["c", "d"] } }, "Pod");
    expect((out.metadata as JsonObject).finalizers).toEqual(["a", "b", "c", "d"]);
  });

  it("$deleteFromPrimitiveList removes values", () => {
    const out = applyStrategicMergePatch(
      base,
      { metadata: { "$deleteFromPrimitiveList/finalizers": ["b"] } },
      "Pod",
    );
    expect((out.metadata as JsonObject).finalizers).toEqual(["a", "c"]);
  });

  it("the design doc's finalizers example: order from $setElementOrder, live-only items interleaved", () => {
    const live = { metadata: { finalizers: ["b", "e", "a", "c", "d"] } };
    const out = applyStrategicMergePatch(
      live,
      {
        metadata: {
          "$setElementOrder/finalizers": ["a", "b", "f"],
          "$deleteFromPrimitiveList/finalizers": ["c"],
          finalizers: ["f"],
        },
      },
      "Pod",
    );
    const got = (out.metadata as JsonObject).finalizers as string[];
    // a, b, f keep the order the client asked for; e and d (server-only) survive.
    expect(got.filter((x) => ["a", "b", "f"].includes(x))).toEqual(["a", "b", "f"]);
    expect(new Set(got)).toEqual(new Set(["a", "b", "d", "e", "f"]));
  });
});

describe("$setElementOrder on merge-keyed lists", () => {
  it("reorders the merged list", () => {
    const base = pod({ containers: [{ name: "a" }, { name: "b" }, { name: "c" }] });
    const out = applyStrategicMergePatch(
      base,
      { spec: { "$setElementOrder/containers": [{ name: "c" }, { name: "a" }, { name: "b" }] } },
      "Pod",
    );
    expect(names((out.spec as JsonObject).containers)).toEqual(["c", "a", "b"]);
  });

  it("the design doc's env example: deletes, adds and orders in one patch", () => {
    const base = pod({
      containers: [
        {
          name: "c",
          env: [
            { name: "ENV2", value: "bar" },
            { name: "ENV5", value: "server-added-2" },
            { name: "ENV1", value: "foo" },
            { name: "ENV3", value: "baz" },
            { name: "ENV4", value: "server-added-1" },
          ],
        },
      ],
    });
    const out = applyStrategicMergePatch(
      base,
      {
        spec: {
          containers: [
            {
              name: "c",
              "$setElementOrder/env": [{ name: "ENV1" }, { name: "ENV2" }, { name: "ENV6" }],
              env: [
                { name: "ENV3", $patch: "delete" },
                { name: "ENV6", value: "new-env" },
              ],
            },
          ],
        },
      },
      "Pod",
    );
    const env = ((out.spec as JsonObject).containers as JsonObject[])[0]!.env as JsonObject[];
    const order = env.map((e) => e.name);
    expect(order.filter((n) => ["ENV1", "ENV2", "ENV6"].includes(n as string))).toEqual([
      "ENV1",
      "ENV2",
      "ENV6",
    ]);
    expect(new Set(order)).toEqual(new Set(["ENV1", "ENV2", "ENV4", "ENV5", "ENV6"]));
    // mergeSortedSlice: server-only items go before a patch item that follows them in the live list.
    expect(order).toEqual(["ENV5", "ENV1", "ENV2", "ENV4", "ENV6"]);
  });

  it("rejects an order list that contradicts the patch list", () => {
    const base = pod({ containers: [{ name: "a" }, { name: "b" }] });
    expect(() =>
      applyStrategicMergePatch(
        base,
        {
          spec: {
            "$setElementOrder/containers": [{ name: "a" }, { name: "b" }],
            containers: [{ name: "b" }, { name: "a" }],
          },
        },
        "Pod",
      ),
    ).toThrow(StrategicMergePatchError);
  });
});

describe("map directives", () => {
  it("null deletes a key; $patch: replace replaces a map; $patch: delete empties it", () => {
    const base = { metadata: { name: "x", labels: { a: "1", b: "2" }, annotations: { k: "v" } } };
    const out = applyStrategicMergePatch(
      base,
      {
        metadata: {
          labels: { $patch: "replace", c: "3" },
          annotations: { $patch: "delete" },
          name: null,
        },
      },
      "Pod",
    );
    expect(out.metadata).toEqual({ labels: { c: "3" }, annotations: {} });
  });

  it("Deployment strategy uses retainKeys: switching to Recreate drops rollingUpdate", () => {
    const d = {
      kind: "Deployment",
      spec: { strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%" } } },
    };
    const out = applyStrategicMergePatch(
      d,
      { spec: { strategy: { $retainKeys: ["type"], type: "Recreate" } } },
      "Deployment",
    );
    expect((out.spec as JsonObject).strategy).toEqual({ type: "Recreate" });
  });

  it("a key outside $retainKeys in the patch is a bad request", () => {
    try {
      applyStrategicMergePatch(
        { spec: { strategy: { type: "Recreate" } } },
        { spec: { strategy: { $retainKeys: ["type"], other: 1 } } },
        "Deployment",
      );
      expect.unreachable();
    } catch (e) {
      expect((e as StrategicMergePatchError).message).toBe("invalid patch format of retainKeys");
      expect((e as StrategicMergePatchError).kind).toBe("badRequest");
    }
  });

  it("$patch: merge on a map is rejected like Kubernetes", () => {
    expect(() =>
      applyStrategicMergePatch({ spec: {} }, { spec: { $patch: "merge" } }, "Pod"),
    ).toThrow("unknown patch type: merge");
  });

  it("nulls inside a brand-new subtree are dropped (IgnoreUnmatchedNulls)", () => {
    const out = applyStrategicMergePatch(
      { spec: {} },
      { spec: { nodeSelector: { a: "1", b: null } } },
      "Pod",
    );
    expect((out.spec as JsonObject).nodeSelector).toEqual({ a: "1" });
  });

  it("does not mutate its inputs", () => {
    const base = pod({ containers: [{ name: "a", image: "1" }] });
    const patch = { spec: { containers: [{ name: "a", image: "2" }] } };
    const before = JSON.stringify([base, patch]);
    applyStrategicMergePatch(base, patch, "Pod");
    expect(JSON.stringify([base, patch])).toBe(before);
  });

  it("a patch that is not an object is an invalid JSON document", () => {
    expect(() => applyStrategicMergePatch({}, [1], "Pod")).toThrow("invalid JSON document");
  });
});

/**
 * Server-side cases from apimachinery's patch_test.go (the "Current" object, the "ThreeWay"
 * patch kubectl would send, and the expected "Result"), on a list merged by `name`: here the
 * pod's containers, with `other`/`value` carried in `image`/`workingDir`.
 */
describe("patch_test.go cases (Current + ThreeWay → Result)", () => {
  const c = (name: string, image?: string): JsonObject =>
    image === undefined ? { name } : { name, image };
  const run = (current: JsonObject[], patch: JsonObject) =>
    (
      applyStrategicMergePatch(pod({ containers: current }), { spec: patch }, "Pod")
        .spec as JsonObject
    ).containers;

  it("merge lists of maps", () => {
    expect(
      run([c("1", "a"), c("2", "b")], {
        "$setElementOrder/containers": [c("4"), c("1"), c("2"), c("3")],
        containers: [c("4", "4"), c("3", "3")],
      }),
    ).toEqual([c("4", "4"), c("1", "a"), c("2", "b"), c("3", "3")]);
  });

  it("add map and delete map from merging list", () => {
    expect(
      run([c("1"), c("2", "b"), c("4", "c")], {
        "$setElementOrder/containers": [c("2"), c("3")],
        containers: [c("3"), { name: "1", $patch: "delete" }],
      }),
    ).toEqual([c("2", "b"), c("4", "c"), c("3")]);
  });

  it("add map and delete map from merging list with conflict", () => {
    expect(
      run([c("1", "a"), c("4", "c")], {
        "$setElementOrder/containers": [c("2"), c("3")],
        containers: [c("2"), c("3"), { name: "1", $patch: "delete" }],
      }),
    ).toEqual([c("4", "c"), c("2"), c("3")]);
  });

  it("delete missing map from merging list with conflict", () => {
    expect(
      run([c("3", "a")], {
        "$setElementOrder/containers": [c("2")],
        containers: [c("2"), { name: "1", $patch: "delete" }],
      }),
    ).toEqual([c("2"), c("3", "a")]);
  });

  it("set elements order in a list with server-only items 3", () => {
    expect(
      run([c("1", "a"), c("2", "2"), c("7"), c("9"), c("8"), c("3", "3"), c("4", "4")], {
        "$setElementOrder/containers": [c("2"), c("1"), c("4"), c("3")],
      }),
    ).toEqual([c("2", "2"), c("1", "a"), c("7"), c("9"), c("8"), c("4", "4"), c("3", "3")]);
  });

  it("add and delete an item in a primitive list and preserve order", () => {
    const out = applyStrategicMergePatch(
      { metadata: { finalizers: ["1", "2", "3"] } },
      {
        metadata: {
          "$setElementOrder/finalizers": ["4", "2", "1"],
          finalizers: ["4"],
          "$deleteFromPrimitiveList/finalizers": ["3"],
        },
      },
      "Pod",
    );
    expect((out.metadata as JsonObject).finalizers).toEqual(["4", "2", "1"]);
  });

  it("set elements order in a primitive list with server-only items 2", () => {
    const out = applyStrategicMergePatch(
      { metadata: { finalizers: ["1", "2", "9", "3", "4"] } },
      { metadata: { "$setElementOrder/finalizers": ["2", "1", "4", "3"] } },
      "Pod",
    );
    expect((out.metadata as JsonObject).finalizers).toEqual(["2", "1", "9", "4", "3"]);
  });
});
