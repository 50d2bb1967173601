/**
 * `kubectl delete --cascade=orphan|foreground|background` end to end: a 3-server cluster with
 * its built-in controllers (the garbage collector among them), scheduler and kubelets; the
 * real kubectl. Also a custom finalizer holding an object past `kubectl delete --wait=false`.
 * Intermediate states are made to last by a finalizer the test holds, never by timing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";
import { kubectl, kubectlOk } from "./kubectl-harness.ts";

const HOLD = "example.com/hold";

interface Meta {
  name: string;
  uid: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  ownerReferences?: { uid: string; kind: string; name: string }[];
}
interface Item {
  metadata: Meta;
}

let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await LocalCluster.start(3, [], true);
  await waitFor(
    "the default namespace",
    async () => (await kubectl(cluster, ["get", "namespace", "default"])).code === 0,
  );
});

afterAll(async () => {
  await cluster?.stop();
});

/** The object, or null when the API server says NotFound. */
async function getObject(kind: string, name: string): Promise<Item | null> {
  const r = await kubectl(cluster, ["get", kind, name, "-o", "json"]);
  if (r.code === 0) return JSON.parse(r.stdout) as Item;
  if (/NotFound|not found/.test(r.stderr)) return null;
  throw new Error(`kubectl get ${kind} ${name}: ${r.stderr}`);
}

async function list(kind: string, selector: string): Promise<Item[]> {
  const out = await kubectlOk(cluster, ["get", kind, "-l", selector, "-o", "json"]);
  return (JSON.parse(out) as { items: Item[] }).items;
}

const replicaSet = (name: string, replicas: number) => `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: ${name}, labels: {app: ${name}}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec: {containers: [{name: echo, image: bosun/echo}]}
`;

async function podsOwnedBy(selector: string, count: number): Promise<Item[]> {
  return waitFor(`${count} pods of ${selector}`, async () => {
    const pods = await list("pods", selector);
    const live = pods.filter((p) => !p.metadata.deletionTimestamp);
    return live.length === count ? live : undefined;
  });
}

describe("kubectl delete --cascade", () => {
  it("orphan: the ReplicaSet goes, its pods stay with no ownerReference to it", async () => {
    await kubectlOk(cluster, ["apply", "-f", "-"], replicaSet("orphans", 2));
    const rs = await waitFor(
      "the ReplicaSet",
      async () => (await getObject("rs", "orphans")) ?? undefined,
    );
    const before = await podsOwnedBy("app=orphans", 2);
    for (const p of before)
      expect(p.metadata.ownerReferences?.map((r) => r.uid)).toEqual([rs.metadata.uid]);

    // kubectl waits until the ReplicaSet is gone, i.e. until the collector let it go
    expect(await kubectlOk(cluster, ["delete", "rs", "orphans", "--cascade=orphan"])).toContain(
      'replicaset.apps "orphans" deleted',
    );
    expect(await getObject("rs", "orphans")).toBeNull();
    const after = await list("pods", "app=orphans");
    expect(after.map((p) => p.metadata.name).sort()).toEqual(
      before.map((p) => p.metadata.name).sort(),
    );
    for (const p of after) {
      expect(p.metadata.deletionTimestamp).toBeUndefined();
      expect((p.metadata.ownerReferences ?? []).some((r) => r.uid === rs.metadata.uid)).toBe(false);
    }
    await kubectlOk(cluster, ["delete", "pods", "-l", "app=orphans", "--wait=false"]);
  });

  it("foreground: the Deployment stays, marked, while a dependent is left; then all of it goes", async () => {
    await kubectlOk(cluster, ["create", "deployment", "fg", "--image=bosun/echo", "--replicas=2"]);
    const [held, other] = await podsOwnedBy("app=fg", 2);
    // a pod that cannot go until the test says so keeps its ReplicaSet, and so the Deployment
    await kubectlOk(cluster, [
      "patch",
      "pod",
      held!.metadata.name,
      "-p",
      JSON.stringify({ metadata: { finalizers: [HOLD] } }),
    ]);
    expect(
      await kubectlOk(cluster, [
        "delete",
        "deployment",
        "fg",
        "--cascade=foreground",
        "--wait=false",
      ]),
    ).toContain('deployment.apps "fg" deleted');

    const rsName = await waitFor("the other pod gone, the held one marked", async () => {
      const pods = await list("pods", "app=fg");
      const names = pods.map((p) => p.metadata.name);
      const marked = pods.find((p) => p.metadata.name === held!.metadata.name);
      if (names.includes(other!.metadata.name) || !marked?.metadata.deletionTimestamp)
        return undefined;
      return marked.metadata.ownerReferences?.[0]?.name;
    });
    const deployment = await getObject("deployment", "fg");
    expect(deployment?.metadata.deletionTimestamp).toBeTruthy();
    expect(deployment?.metadata.finalizers).toContain("foregroundDeletion");
    // the ReplicaSet has dependents of its own, so it is deleted in Foreground too
    const rs = await getObject("rs", rsName);
    expect(rs?.metadata.deletionTimestamp).toBeTruthy();
    expect(rs?.metadata.finalizers).toContain("foregroundDeletion");

    await kubectlOk(cluster, [
      "patch",
      "pod",
      held!.metadata.name,
      "--type=merge",
      "-p",
      JSON.stringify({ metadata: { finalizers: null } }),
    ]);
    await waitFor(
      "the pods, the ReplicaSet and the Deployment gone",
      async () =>
        (await list("pods", "app=fg")).length === 0 &&
        (await getObject("rs", rsName)) === null &&
        (await getObject("deployment", "fg")) === null,
      60_000,
    );
  });

  it("background: the Deployment goes at once, the collector takes its ReplicaSet and pods", async () => {
    await kubectlOk(cluster, ["create", "deployment", "bg", "--image=bosun/echo", "--replicas=2"]);
    await podsOwnedBy("app=bg", 2);
    expect(
      await kubectlOk(cluster, ["delete", "deployment", "bg", "--cascade=background"]),
    ).toContain('deployment.apps "bg" deleted');
    expect(await getObject("deployment", "bg")).toBeNull();
    await waitFor(
      "the ReplicaSet and pods gone",
      async () =>
        (await list("rs", "app=bg")).length === 0 && (await list("pods", "app=bg")).length === 0,
      60_000,
    );
  });

  it("foreground on an object without dependents completes (the collector follows every resource)", async () => {
    await kubectlOk(cluster, ["create", "configmap", "leaf"]);
    expect(
      await kubectlOk(cluster, ["delete", "configmap", "leaf", "--cascade=foreground"]),
    ).toContain('configmap "leaf" deleted');
    expect(await getObject("configmap", "leaf")).toBeNull();
  });
});

describe("a custom finalizer", () => {
  it("holds an object past kubectl delete --wait=false; it goes once the finalizer is patched away", async () => {
    await kubectlOk(cluster, ["create", "configmap", "held"]);
    await kubectlOk(cluster, [
      "patch",
      "configmap",
      "held",
      "-p",
      JSON.stringify({ metadata: { finalizers: [HOLD] } }),
    ]);
    expect(await kubectlOk(cluster, ["delete", "configmap", "held", "--wait=false"])).toContain(
      'configmap "held" deleted',
    );
    const marked = await getObject("configmap", "held");
    expect(marked?.metadata.deletionTimestamp).toBeTruthy();
    expect(marked?.metadata.finalizers).toEqual([HOLD]);

    // an object on its way out takes no new finalizers
    const more = await kubectl(cluster, [
      "patch",
      "configmap",
      "held",
      "-p",
      JSON.stringify({ metadata: { finalizers: ["example.com/another"] } }),
    ]);
    expect(more.code).not.toBe(0);
    expect(more.stderr).toContain("no new finalizers can be added if the object is being deleted");

    await kubectlOk(cluster, [
      "patch",
      "configmap",
      "held",
      "--type=json",
      "-p",
      JSON.stringify([{ op: "remove", path: "/metadata/finalizers" }]),
    ]);
    expect(await getObject("configmap", "held")).toBeNull();
  });
});
