import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { resourceByPlural } from "../../../actors/api/resources.ts";
import {
  aggregatedDiscovery,
  apiResourceList,
  wantsAggregatedDiscovery,
} from "../../../actors/apiserver/discovery.ts";
import { decodeProtobufBody, PROTOBUF_MAGIC } from "../../../actors/apiserver/protobuf-body.ts";
import {
  collectionPrefix,
  decodeContinue,
  encodeContinue,
  objectKey,
} from "../../../actors/apiserver/registry-keys.ts";
import { parseRequestInfo } from "../../../actors/apiserver/request-info.ts";
import {
  decodeChange,
  toApiWatchEvent as toApiEvent,
} from "../../../actors/apiserver/watch-events.ts";
import type { WatchEvent } from "../../../raft/mvcc/watch-hub.ts";

/** A store watch event through the decode the store path does, then the API mapping. */
const toApiWatchEvent = (event: WatchEvent, matches: (o: JsonObject) => boolean) =>
  toApiEvent(decodeChange(event), matches);

const q = (s = "") => new URLSearchParams(s);

describe("request info (k8s.io/apiserver RequestInfoFactory)", () => {
  it("namespaced get, list, watch, create", () => {
    const get = parseRequestInfo("GET", "/api/v1/namespaces/default/pods/web", q());
    expect(get.type === "resource" && get.request).toMatchObject({
      namespace: "default",
      name: "web",
      verb: "get",
      subresource: null,
    });
    const list = parseRequestInfo("GET", "/apis/apps/v1/namespaces/x/deployments", q());
    expect(list.type === "resource" && list.request.verb).toBe("list");
    const watch = parseRequestInfo("GET", "/api/v1/pods", q("watch=1"));
    expect(watch.type === "resource" && watch.request).toMatchObject({
      verb: "watch",
      namespace: null,
    });
    const create = parseRequestInfo("POST", "/api/v1/namespaces/x/configmaps", q());
    expect(create.type === "resource" && create.request.verb).toBe("create");
  });

  it("a namespace's own subresources and the namespace resource itself", () => {
    const ns = parseRequestInfo("GET", "/api/v1/namespaces/demo", q());
    expect(ns.type === "resource" && ns.request).toMatchObject({ name: "demo", namespace: null });
    const status = parseRequestInfo("PUT", "/api/v1/namespaces/demo/status", q());
    expect(status.type === "resource" && status.request).toMatchObject({
      name: "demo",
      subresource: "status",
      verb: "update",
    });
  });

  it("subresources, deletecollection, unknown resources", () => {
    const scale = parseRequestInfo("PATCH", "/apis/apps/v1/namespaces/a/deployments/d/scale", q());
    expect(scale.type === "resource" && scale.request).toMatchObject({
      subresource: "scale",
      verb: "patch",
    });
    const dc = parseRequestInfo("DELETE", "/api/v1/namespaces/a/secrets", q());
    expect(dc.type === "resource" && dc.request.verb).toBe("deletecollection");
    expect(parseRequestInfo("GET", "/api/v1/widgets", q()).type).toBe("unknownResource");
    expect(parseRequestInfo("GET", "/version", q()).type).toBe("nonResource");
  });
});

describe("registry keys and continue tokens", () => {
  const pods = resourceByPlural("pods", "")!;
  const nodes = resourceByPlural("nodes", "")!;
  const deployments = resourceByPlural("deployments", "apps")!;

  it("lays objects out like the Kubernetes API server does in etcd", () => {
    expect(objectKey(pods, "default", "web")).toBe("/registry/core/pods/default/web");
    expect(objectKey(nodes, null, "n1")).toBe("/registry/core/nodes/n1");
    expect(objectKey(deployments, "a", "d")).toBe("/registry/apps/deployments/a/d");
    expect(collectionPrefix(pods, null)).toBe("/registry/core/pods/");
    expect(collectionPrefix(pods, "a")).toBe("/registry/core/pods/a/");
  });

  it("round-trips a continue token and rejects forged ones", () => {
    const token = { rv: 42, start: "default/web\u0000" };
    expect(decodeContinue(encodeContinue(token))).toEqual(token);
    expect(() => decodeContinue("not base64 json")).toThrow(/continue key is not valid/);
    const outside = Buffer.from(
      JSON.stringify({ v: "meta.k8s.io/v1", rv: 1, start: "../secrets/" }),
    ).toString("base64url");
    expect(() => decodeContinue(outside)).toThrow(/start key/);
  });
});

describe("watch event mapping", () => {
  const kv = (
    name: string,
    labels: Record<string, string>,
    createRevision: number,
    modRevision: number,
  ) => ({
    key: Buffer.from(`/registry/core/configmaps/d/${name}`),
    value: Buffer.from(JSON.stringify({ kind: "ConfigMap", metadata: { name, labels } })),
    createRevision,
    modRevision,
    version: 1,
    lease: 0,
  });
  const front = (o: { metadata?: unknown }) =>
    (o.metadata as { labels: Record<string, string> }).labels.tier === "front";

  it("a new key is ADDED, a changed one MODIFIED, a delete DELETED at the delete's revision", () => {
    expect(toApiWatchEvent({ type: "PUT", kv: kv("a", {}, 5, 5) }, () => true)?.type).toBe("ADDED");
    const mod = toApiWatchEvent(
      { type: "PUT", kv: kv("a", {}, 5, 6), prevKv: kv("a", {}, 5, 5) },
      () => true,
    );
    expect(mod?.type).toBe("MODIFIED");
    expect((mod!.object.metadata as { resourceVersion: string }).resourceVersion).toBe("6");
    const del = toApiWatchEvent(
      {
        type: "DELETE",
        kv: { ...kv("a", {}, 0, 7), value: Buffer.alloc(0) },
        prevKv: kv("a", {}, 5, 6),
      },
      () => true,
    );
    expect(del?.type).toBe("DELETED");
    expect((del!.object.metadata as { resourceVersion: string }).resourceVersion).toBe("7");
  });

  it("with a selector, moving in is ADDED and moving out DELETED", () => {
    const into = toApiWatchEvent(
      {
        type: "PUT",
        kv: kv("a", { tier: "front" }, 5, 6),
        prevKv: kv("a", { tier: "back" }, 5, 5),
      },
      front,
    );
    expect(into?.type).toBe("ADDED");
    const out = toApiWatchEvent(
      {
        type: "PUT",
        kv: kv("a", { tier: "back" }, 5, 7),
        prevKv: kv("a", { tier: "front" }, 5, 6),
      },
      front,
    );
    expect(out?.type).toBe("DELETED");
    expect(toApiWatchEvent({ type: "PUT", kv: kv("a", { tier: "back" }, 5, 5) }, front)).toBeNull();
  });
});

describe("discovery", () => {
  it("answers aggregated discovery only for v2 APIGroupDiscoveryList", () => {
    const kubectl =
      "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
    expect(wantsAggregatedDiscovery(kubectl)).toBe(true);
    expect(wantsAggregatedDiscovery("application/json")).toBe(false);
    const apis = aggregatedDiscovery("apis") as { items: { metadata: { name: string } }[] };
    expect(apis.items.map((i) => i.metadata.name)).toEqual([
      "apps",
      "coordination.k8s.io",
      "discovery.k8s.io",
      "scheduling.k8s.io",
      "policy",
      "batch",
      "storage.k8s.io",
      "rbac.authorization.k8s.io",
      "authorization.k8s.io",
      "autoscaling",
      "metrics.k8s.io",
    ]);
  });

  it("lists subresources in the legacy APIResourceList", () => {
    const list = apiResourceList("apps", "v1") as { resources: { name: string; kind: string }[] };
    expect(list.resources.find((r) => r.name === "deployments/scale")?.kind).toBe("Scale");
  });
});

describe("protobuf request bodies", () => {
  const field = (no: number, payload: Buffer) =>
    Buffer.concat([Buffer.from([(no << 3) | 2, payload.length]), payload]);
  const s = (t: string) => Buffer.from(t);

  it("decodes a Namespace the way kubectl create namespace sends it", () => {
    const typeMeta = field(1, Buffer.concat([field(1, s("v1")), field(2, s("Namespace"))]));
    const ns = field(1, field(1, s("demo")));
    const body = Buffer.concat([PROTOBUF_MAGIC, typeMeta, field(2, ns)]);
    expect(decodeProtobufBody(body)).toEqual({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "demo" },
    });
  });
});
