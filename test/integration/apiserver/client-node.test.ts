/** The official Kubernetes JavaScript client against bosun's API server. */
import { join } from "node:path";
import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  type V1ConfigMap,
  Watch,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";

describe("@kubernetes/client-node against bosun", () => {
  let cluster: LocalCluster;
  let kc: KubeConfig;
  let core: CoreV1Api;

  beforeAll(async () => {
    cluster = await LocalCluster.start(3);
    kc = new KubeConfig();
    kc.loadFromFile(join(cluster.runDir, "kubeconfig"));
    core = kc.makeApiClient(CoreV1Api);
    await waitFor("the default namespace", () => core.readNamespace({ name: "default" }));
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it("creates, lists with a label selector, and watches", async () => {
    const events: string[] = [];
    const list = await core.listNamespacedConfigMap({ namespace: "default" });
    const watch = await new Watch(kc).watch(
      "/api/v1/namespaces/default/configmaps",
      { resourceVersion: list.metadata?.resourceVersion },
      (type: string, obj: V1ConfigMap) => events.push(`${type} ${obj.metadata?.name}`),
      () => {},
    );
    try {
      for (const [name, tier] of [
        ["a", "front"],
        ["b", "back"],
        ["c", "front"],
      ] as const) {
        const created = await core.createNamespacedConfigMap({
          namespace: "default",
          body: { metadata: { name, labels: { tier } }, data: { k: name } },
        });
        expect(created.metadata?.uid).toBeTruthy();
      }
      const front = await core.listNamespacedConfigMap({
        namespace: "default",
        labelSelector: "tier=front",
      });
      expect(front.items.map((c) => c.metadata?.name)).toEqual(["a", "c"]);
      await waitFor("three ADDED events", () => events.length >= 3);
      expect(events).toEqual(["ADDED a", "ADDED b", "ADDED c"]);
      await core.deleteNamespacedConfigMap({ name: "b", namespace: "default" });
      await waitFor("DELETED b", () => events.includes("DELETED b"));
    } finally {
      watch.abort();
    }
  });

  it("pages a list with limit and continue", async () => {
    const first = await core.listNamespacedConfigMap({ namespace: "default", limit: 1 });
    expect(first.items).toHaveLength(1);
    expect(first.metadata?._continue).toBeTruthy();
    const second = await core.listNamespacedConfigMap({
      namespace: "default",
      limit: 1,
      _continue: first.metadata?._continue as string,
    });
    expect(second.items[0]?.metadata?.name).not.toBe(first.items[0]?.metadata?.name);
    expect(second.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
  });

  it("a replace with a stale resourceVersion is a 409 Conflict", async () => {
    const current = await core.readNamespacedConfigMap({ name: "a", namespace: "default" });
    await core.replaceNamespacedConfigMap({
      name: "a",
      namespace: "default",
      body: { ...current, data: { k: "new" } },
    });
    const stale = core.replaceNamespacedConfigMap({
      name: "a",
      namespace: "default",
      body: { ...current, data: { k: "stale" } },
    });
    await expect(stale).rejects.toSatisfy(
      (e: unknown) => e instanceof ApiException && e.code === 409,
    );
  });

  it("AlreadyExists, NotFound namespace, Invalid", async () => {
    const body = { metadata: { name: "a" } };
    await expect(core.createNamespacedConfigMap({ namespace: "default", body })).rejects.toSatisfy(
      (e: unknown) => e instanceof ApiException && e.code === 409,
    );
    await expect(core.createNamespacedConfigMap({ namespace: "nope", body })).rejects.toSatisfy(
      (e: unknown) => e instanceof ApiException && e.code === 404,
    );
    await expect(
      core.createNamespacedConfigMap({
        namespace: "default",
        body: { metadata: { name: "Bad_Name" } },
      }),
    ).rejects.toSatisfy((e: unknown) => e instanceof ApiException && e.code === 422);
  });
});
