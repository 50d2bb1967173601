/**
 * kubectl's typed `create` subcommands (protobuf bodies), `scale`, `describe`, `get -o wide` on
 * every resource, delete with a cascade policy (the API server's part: no controllers run
 * here), and the watch and list edges: bookmarks, 410 after compaction, deletecollection with a
 * label selector. A 3-server cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";
import { apiRequest, kubectl, kubectlOk } from "./kubectl-harness.ts";

const NODE = `apiVersion: v1
kind: Node
metadata: {name: worker-1, labels: {kubernetes.io/hostname: worker-1}}
spec: {podCIDR: 10.244.1.0/24}
`;

type WatchLine = {
  type: string;
  object: { code?: number; metadata?: { resourceVersion?: string } };
};
const watchLines = (text: string): WatchLine[] =>
  text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as WatchLine);

describe("kubectl workloads and API edges", () => {
  let cluster: LocalCluster;

  beforeAll(async () => {
    cluster = await LocalCluster.start(3);
    await waitFor(
      "the default namespace",
      async () => (await kubectl(cluster, ["get", "namespace", "default"])).code === 0,
    );
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it("typed create subcommands (protobuf bodies), scale, get deploy,rs -o wide", async () => {
    expect(
      await kubectlOk(cluster, ["create", "deployment", "web", "--image=nginx", "--replicas=2"]),
    ).toContain("deployment.apps/web created");
    expect(
      await kubectlOk(cluster, ["create", "service", "clusterip", "web", "--tcp=80:8080"]),
    ).toContain("service/web created");
    expect(await kubectlOk(cluster, ["create", "serviceaccount", "robot"])).toContain(
      "serviceaccount/robot created",
    );
    const svc = JSON.parse(await kubectlOk(cluster, ["get", "svc", "web", "-o", "json"]));
    expect(svc.spec.ports).toEqual([
      { name: "80-8080", port: 80, protocol: "TCP", targetPort: 8080 },
    ]);
    expect(svc.spec.selector).toEqual({ app: "web" });

    expect(await kubectlOk(cluster, ["scale", "deployment", "web", "--replicas=3"])).toContain(
      "deployment.apps/web scaled",
    );
    const deploy = JSON.parse(await kubectlOk(cluster, ["get", "deploy", "web", "-o", "json"]));
    expect(deploy.spec.replicas).toBe(3);
    expect(deploy.metadata.generation).toBe(2);
    expect(deploy.spec.template.spec.containers).toMatchObject([{ name: "nginx", image: "nginx" }]);
    const scale = JSON.parse(
      await kubectlOk(cluster, ["get", "deploy", "web", "--subresource=scale", "-o", "json"]),
    );
    expect(scale).toMatchObject({
      kind: "Scale",
      spec: { replicas: 3 },
      status: { selector: "app=web" },
    });

    const wide = await kubectlOk(cluster, ["get", "deploy,rs", "-o", "wide"]);
    expect(wide).toMatch(/deployment.apps\/web\s+0\/3.*nginx\s+nginx\s+app=web/);
  });

  it("describe a pod, service, configmap, deployment and node", async () => {
    await kubectlOk(cluster, ["create", "-f", "-"], NODE);
    await kubectlOk(cluster, ["run", "solo", "--image=nginx", "--labels=app=solo"]);
    await kubectlOk(cluster, ["create", "configmap", "settings", "--from-literal=color=blue"]);
    const expectations: [string, RegExp][] = [
      ["pod/solo", /Name:\s+solo[\s\S]*Containers:[\s\S]*Image:\s+nginx/],
      ["service/web", /Name:\s+web[\s\S]*Selector:\s+app=web[\s\S]*TargetPort:\s+8080\/TCP/],
      ["configmap/settings", /Name:\s+settings[\s\S]*color:[\s\S]*blue/],
      ["deployment/web", /Name:\s+web[\s\S]*Replicas:\s+3 desired[\s\S]*Image:\s+nginx/],
      ["node/worker-1", /Name:\s+worker-1[\s\S]*PodCIDR:\s+10.244.1.0\/24/],
    ];
    for (const [what, pattern] of expectations)
      expect(await kubectlOk(cluster, ["describe", what])).toMatch(pattern);
  });

  it("get -o wide works for every listable resource kind in discovery", async () => {
    // create-only kinds (the access reviews) cannot be listed, as in Kubernetes
    const kinds = (await kubectlOk(cluster, ["api-resources", "--verbs=list", "-o", "name"]))
      .trim()
      .split("\n");
    expect(kinds.length).toBeGreaterThanOrEqual(13);
    for (const kind of kinds) {
      const r = await kubectl(cluster, ["get", kind, "-A", "-o", "wide"]);
      expect(`${kind}: ${r.code} ${r.stderr}`).toBe(`${kind}: 0 ${r.stderr}`);
    }
  });

  it("delete --cascade without a garbage collector: background goes, orphan|foreground stay held by their finalizer", async () => {
    // this cluster runs no controllers, so nothing processes the GC finalizers: the API server's
    // part is all there is to see (kubectl-cascade.test.ts has the collector's)
    const finalizerOf = { orphan: "orphan", foreground: "foregroundDeletion" } as const;
    await kubectlOk(cluster, ["create", "configmap", "cascade-background"]);
    expect(
      await kubectlOk(cluster, [
        "delete",
        "configmap",
        "cascade-background",
        "--cascade=background",
      ]),
    ).toContain('configmap "cascade-background" deleted');
    expect((await kubectl(cluster, ["get", "configmap", "cascade-background"])).code).not.toBe(0);
    for (const cascade of ["orphan", "foreground"] as const) {
      const name = `cascade-${cascade}`;
      await kubectlOk(cluster, ["create", "configmap", name]);
      expect(
        await kubectlOk(cluster, [
          "delete",
          "configmap",
          name,
          `--cascade=${cascade}`,
          "--wait=false",
        ]),
      ).toContain(`configmap "${name}" deleted`);
      const held = JSON.parse(await kubectlOk(cluster, ["get", "configmap", name, "-o", "json"]));
      expect(held.metadata.finalizers).toEqual([finalizerOf[cascade]]);
      expect(held.metadata.deletionTimestamp).toBeTruthy();
    }
    expect(
      await kubectlOk(cluster, ["delete", "deployment", "web", "--cascade=orphan", "--wait=false"]),
    ).toContain("deleted");
    // what the collector would do last: the finalizer goes, and with it the object
    for (const [kind, name] of [
      ["configmap", "cascade-orphan"],
      ["configmap", "cascade-foreground"],
      ["deployment", "web"],
    ]) {
      await kubectlOk(cluster, [
        "patch",
        kind as string,
        name as string,
        "--type=merge",
        "-p",
        '{"metadata":{"finalizers":null}}',
      ]);
      expect((await kubectl(cluster, ["get", kind as string, name as string])).code).not.toBe(0);
    }
  });

  it("deletecollection with a label selector takes only the matching objects", async () => {
    for (const [name, tier] of [
      ["dc-1", "cache"],
      ["dc-2", "cache"],
      ["dc-3", "db"],
    ]) {
      await kubectlOk(cluster, ["create", "configmap", name as string]);
      await kubectlOk(cluster, ["label", "configmap", name as string, `tier=${tier}`]);
    }
    const out = await apiRequest(
      cluster,
      "DELETE",
      "/api/v1/namespaces/default/configmaps?labelSelector=tier%3Dcache",
    );
    expect(out.code).toBe(200);
    const deleted = JSON.parse(out.text).items.map(
      (i: { metadata: { name: string } }) => i.metadata.name,
    );
    expect(deleted.sort()).toEqual(["dc-1", "dc-2"]);
    const left = await kubectlOk(cluster, ["get", "cm", "-l", "tier", "-o", "name"]);
    expect(left.trim()).toBe("configmap/dc-3");
  });

  it("a watch with allowWatchBookmarks gets a BOOKMARK at the revision it has caught up to", async () => {
    const created = JSON.parse(
      await kubectlOk(cluster, ["create", "configmap", "marked", "-o", "json"]),
    );
    const rv = Number(created.metadata.resourceVersion);
    const watch = await apiRequest(
      cluster,
      "GET",
      `/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true&resourceVersion=${rv - 1}&timeoutSeconds=2`,
    );
    const lines = watchLines(watch.text);
    expect(lines[0]).toMatchObject({ type: "ADDED" });
    const bookmark = lines.find((l) => l.type === "BOOKMARK");
    expect(Number(bookmark?.object.metadata?.resourceVersion)).toBeGreaterThanOrEqual(rv);
    const without = await apiRequest(
      cluster,
      "GET",
      `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rv}&timeoutSeconds=1`,
    );
    expect(watchLines(without.text).some((l) => l.type === "BOOKMARK")).toBe(false);
  });

  it("watching from a compacted resourceVersion ends with an ERROR 410 event", async () => {
    const first = JSON.parse(
      await kubectlOk(cluster, ["create", "configmap", "churn", "-o", "json"]),
    );
    const oldRv = Number(first.metadata.resourceVersion);
    for (let i = 0; i < 3; i++)
      await kubectlOk(cluster, ["annotate", "--overwrite", "configmap", "churn", `n=${i}`]);
    const now = JSON.parse(await kubectlOk(cluster, ["get", "configmap", "churn", "-o", "json"]));
    const client = await cluster.connectClient();
    await client
      .storeClient()
      .write({ op: "compact", revision: Number(now.metadata.resourceVersion) });
    const watch = await apiRequest(
      cluster,
      "GET",
      `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${oldRv}&timeoutSeconds=5`,
    );
    const lines = watchLines(watch.text);
    expect(lines.at(-1)).toMatchObject({ type: "ERROR", object: { code: 410, reason: "Expired" } });
    // a list at the compacted revision is 410 too; a fresh list still works
    const list = await apiRequest(
      cluster,
      "GET",
      `/api/v1/namespaces/default/configmaps?resourceVersion=${oldRv}&resourceVersionMatch=Exact`,
    );
    expect(list.code).toBe(410);
    expect((await kubectl(cluster, ["get", "configmap", "churn"])).code).toBe(0);
  });
});
