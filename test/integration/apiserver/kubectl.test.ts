/**
 * The real kubectl (1.32) against a 3-server bosun cluster, through the kubeconfig `bosun up`
 * writes (HTTPS, the cluster CA, the admin bearer token).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";
import { kubectl, kubectlOk, spawnKubectl } from "./kubectl-harness.ts";

const MANIFEST = `apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  namespace: shop
  labels: {app: web}
data:
  color: blue
---
apiVersion: v1
kind: Secret
metadata:
  name: app-secret
  namespace: shop
stringData:
  password: hunter2
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
`;

describe("kubectl against bosun", () => {
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

  it("up writes a kubeconfig with the CA, every server and a token", () => {
    const config = parseYaml(readFileSync(join(cluster.runDir, "kubeconfig"), "utf8"));
    expect(config.clusters).toHaveLength(3);
    expect(config.clusters[0].cluster.server).toBe(
      `https://${cluster.cluster.nodes[0]?.host}:6443`,
    );
    expect(config.clusters[0].cluster["certificate-authority-data"]).toMatch(/^[A-Za-z0-9+/=]+$/);
    expect(config.users[0].user.token).toMatch(/^[0-9a-f]{64}$/);
  });

  it("kubectl version and api-resources", async () => {
    expect(await kubectlOk(cluster, ["version"])).toMatch(/Server Version: v1\.32/);
    const resources = await kubectlOk(cluster, ["api-resources"]);
    for (const r of ["namespaces", "pods", "configmaps", "deployments", "leases", "endpointslices"])
      expect(resources).toContain(r);
  });

  it("create namespace, apply twice, get in every output format", async () => {
    expect(await kubectlOk(cluster, ["create", "namespace", "shop"])).toContain(
      "namespace/shop created",
    );
    const first = await kubectlOk(cluster, ["apply", "--validate=false", "-f", "-"], MANIFEST);
    expect(first).toContain("configmap/app-config created");
    expect(first).toContain("secret/app-secret created");
    expect(first).toContain("service/web created");
    const second = await kubectlOk(cluster, ["apply", "--validate=false", "-f", "-"], MANIFEST);
    expect(second).toContain("configmap/app-config unchanged");
    expect(second).toContain("service/web unchanged");

    const wide = await kubectlOk(cluster, ["-n", "shop", "get", "svc", "-o", "wide"]);
    expect(wide).toMatch(/NAME\s+TYPE\s+CLUSTER-IP/);
    expect(wide).toMatch(/web\s+ClusterIP/);
    const yaml = parseYaml(
      await kubectlOk(cluster, ["-n", "shop", "get", "cm", "app-config", "-o", "yaml"]),
    );
    expect(yaml.data).toEqual({ color: "blue" });
    expect(Number(yaml.metadata.resourceVersion)).toBeGreaterThan(0);
    expect(yaml.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    const json = JSON.parse(
      await kubectlOk(cluster, ["-n", "shop", "get", "secret", "app-secret", "-o", "json"]),
    );
    expect(json.type).toBe("Opaque");
    expect(Buffer.from(json.data.password, "base64").toString()).toBe("hunter2");
    expect(
      await kubectlOk(cluster, ["-n", "shop", "get", "cm,svc", "-l", "app=web", "-o", "name"]),
    ).toBe("configmap/app-config\nservice/web\n");
    expect(
      await kubectlOk(cluster, [
        "-n",
        "shop",
        "get",
        "svc",
        "web",
        "-o",
        "jsonpath={.spec.ports[0].protocol}",
      ]),
    ).toBe("TCP");
  });

  it("label, annotate and the three patch types", async () => {
    await kubectlOk(cluster, ["-n", "shop", "label", "cm", "app-config", "tier=front"]);
    await kubectlOk(cluster, ["-n", "shop", "annotate", "cm", "app-config", "owner=alice"]);
    await kubectlOk(cluster, [
      "-n",
      "shop",
      "patch",
      "cm",
      "app-config",
      "--type=json",
      "-p",
      '[{"op":"add","path":"/data/size","value":"L"}]',
    ]);
    await kubectlOk(cluster, [
      "-n",
      "shop",
      "patch",
      "cm",
      "app-config",
      "--type=merge",
      "-p",
      '{"data":{"color":"red"}}',
    ]);
    await kubectlOk(cluster, [
      "-n",
      "shop",
      "patch",
      "svc",
      "web",
      "--type=strategic",
      "-p",
      '{"spec":{"ports":[{"port":80,"targetPort":9090}]}}',
    ]);
    const cm = JSON.parse(
      await kubectlOk(cluster, ["-n", "shop", "get", "cm", "app-config", "-o", "json"]),
    );
    expect(cm.metadata.labels).toEqual({ app: "web", tier: "front" });
    expect(cm.metadata.annotations.owner).toBe("alice");
    expect(cm.data).toEqual({ color: "red", size: "L" });
    const svc = JSON.parse(
      await kubectlOk(cluster, ["-n", "shop", "get", "svc", "web", "-o", "json"]),
    );
    expect(svc.spec.ports).toHaveLength(1);
    expect(svc.spec.ports[0].targetPort).toBe(9090);
  });

  it("get -w sees a create, an update and a delete", async () => {
    const watch = spawnKubectl(cluster, ["-n", "shop", "get", "cm", "-w", "--output-watch-events"]);
    try {
      await waitFor("the watch's initial list", () => watch.output().includes("app-config"));
      await kubectlOk(cluster, [
        "-n",
        "shop",
        "create",
        "configmap",
        "watched",
        "--from-literal=k=v",
      ]);
      await waitFor("ADDED", () => /ADDED\s+watched/.test(watch.output()));
      await kubectlOk(cluster, ["-n", "shop", "label", "cm", "watched", "seen=yes"]);
      await waitFor("MODIFIED", () => /MODIFIED\s+watched/.test(watch.output()));
      await kubectlOk(cluster, ["-n", "shop", "delete", "cm", "watched"]);
      await waitFor("DELETED", () => /DELETED\s+watched/.test(watch.output()));
    } finally {
      watch.child.kill();
    }
  });

  it("delete, and NotFound after", async () => {
    expect(await kubectlOk(cluster, ["-n", "shop", "delete", "secret", "app-secret"])).toContain(
      'secret "app-secret" deleted',
    );
    const r = await kubectl(cluster, ["-n", "shop", "get", "secret", "app-secret"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('secrets "app-secret" not found');
  });

  it("refuses a request without the token (401 Status), serves /healthz without", async () => {
    const node = cluster.cluster.nodes[0];
    const r = await kubectl(cluster, ["--token=wrong-token", "get", "namespaces"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Unauthorized|provide credentials/);
    const raw = await kubectl(cluster, ["get", "--raw", "/healthz"]);
    expect(raw.stdout).toBe("ok");
    expect(node).toBeDefined();
  });

  it("a write through one server's API server is seen through another's", async () => {
    await kubectlOk(cluster, [
      "--context",
      "bosun-n2",
      "-n",
      "shop",
      "create",
      "configmap",
      "via-n2",
      "--from-literal=x=1",
    ]);
    const seen = await kubectlOk(cluster, [
      "--context",
      "bosun-n3",
      "-n",
      "shop",
      "get",
      "cm",
      "via-n2",
      "-o",
      "jsonpath={.data.x}",
    ]);
    expect(seen).toBe("1");
  });

  it("kubectl keeps working against a survivor when the Raft leader is killed", async () => {
    const leader = await cluster.leader();
    cluster.kill(leader);
    await cluster.waitDead(leader);
    const survivor = cluster.cluster.nodes.find((n) => n.id !== leader)?.id as string;
    const context = survivor === "n1" ? "bosun" : `bosun-${survivor}`;
    await waitFor(
      "a write through a survivor",
      async () =>
        (
          await kubectl(cluster, [
            "--context",
            context,
            "-n",
            "shop",
            "create",
            "configmap",
            "after-failover",
          ])
        ).code === 0,
    );
    const names = await kubectlOk(cluster, [
      "--context",
      context,
      "-n",
      "shop",
      "get",
      "cm",
      "-o",
      "name",
    ]);
    expect(names).toContain("configmap/after-failover");
    expect(names).toContain("configmap/via-n2");
  });
});
