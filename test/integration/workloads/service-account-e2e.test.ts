/**
 * ServiceAccounts end to end on a real cluster with its kubelets: every namespace gets a
 * `default` ServiceAccount and a `kube-root-ca.crt` ConfigMap; `kubectl create token` issues a
 * signed JWT the API server then accepts as the ServiceAccount; the JWKS and OIDC discovery
 * documents are served; and a pod's program (the real kubectl, run by the pod's shell) reads its
 * projected token, CA and namespace at /var/run/secrets/kubernetes.io/serviceaccount, lists
 * pods as its ServiceAccount, and is refused a Secret its role lacks.
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";
import { kubectl, kubectlOk } from "../apiserver/kubectl-harness.ts";
import { waitForReadyNodes } from "./workload-harness.ts";

const NS = "robots";

describe("ServiceAccounts", () => {
  let cluster: LocalCluster;
  beforeAll(async () => {
    cluster = await LocalCluster.start(1, [], true);
    await waitForReadyNodes(cluster, 1);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("a namespace gets its default ServiceAccount and the root CA ConfigMap", async () => {
    await kubectlOk(cluster, ["create", "namespace", NS]);
    await waitFor(
      "the default ServiceAccount",
      async () => (await kubectl(cluster, ["get", "sa", "default", "-n", NS])).code === 0,
    );
    await waitFor(
      "kube-root-ca.crt",
      async () => (await kubectl(cluster, ["get", "cm", "kube-root-ca.crt", "-n", NS])).code === 0,
    );
    const ca = await kubectlOk(cluster, [
      "get",
      "cm",
      "kube-root-ca.crt",
      "-n",
      NS,
      "-o",
      "jsonpath={.data.ca\\.crt}",
    ]);
    expect(ca).toContain("BEGIN CERTIFICATE");
  });

  it("kubectl create token issues a JWT the API server accepts as the ServiceAccount", async () => {
    const token = (
      await kubectlOk(cluster, [
        "create",
        "token",
        "default",
        "-n",
        NS,
        "--audience",
        "https://kubernetes.default.svc.cluster.local",
        "--duration",
        "15m",
      ])
    ).trim();
    const [, payload] = token.split(".");
    const claims = JSON.parse(Buffer.from(payload ?? "", "base64url").toString("utf8"));
    expect(claims.sub).toBe(`system:serviceaccount:${NS}:default`);
    expect(claims.exp - claims.iat).toBe(900);
    const asSa = await kubectl(cluster, [
      "--token",
      token,
      "auth",
      "can-i",
      "list",
      "pods",
      "-n",
      NS,
    ]);
    expect(asSa.stdout.trim()).toBe("no");
    await kubectlOk(cluster, [
      "create",
      "role",
      "pod-lister",
      "-n",
      NS,
      "--verb=list,get",
      "--resource=pods",
    ]);
    await kubectlOk(cluster, [
      "create",
      "rolebinding",
      "default-lists-pods",
      "-n",
      NS,
      "--role=pod-lister",
      `--serviceaccount=${NS}:default`,
    ]);
    expect(
      (
        await kubectl(cluster, ["--token", token, "auth", "can-i", "list", "pods", "-n", NS])
      ).stdout.trim(),
    ).toBe("yes");
    // a forged token is no one
    const forged = `${token.slice(0, -4)}AAAA`;
    expect((await kubectl(cluster, ["--token", forged, "get", "pods", "-n", NS])).stderr).toContain(
      "Unauthorized",
    );
    const jwks = JSON.parse(await kubectlOk(cluster, ["get", "--raw", "/openid/v1/jwks"]));
    expect(jwks.keys[0]).toMatchObject({ kty: "RSA", alg: "RS256", use: "sig" });
    const discovery = JSON.parse(
      await kubectlOk(cluster, ["get", "--raw", "/.well-known/openid-configuration"]),
    );
    expect(discovery.issuer).toBe("https://kubernetes.default.svc.cluster.local");
  });

  it("a pod's program lists pods with its token and is refused a Secret", async () => {
    await kubectlOk(cluster, [
      "create",
      "secret",
      "generic",
      "db",
      "-n",
      NS,
      "--from-literal=password=hunter2",
    ]);
    const node = cluster.cluster.nodes[0];
    if (node?.apiPort === undefined) throw new Error("no API server");
    const kubectlPath = execFileSync("which", ["kubectl"], { encoding: "utf8" }).trim();
    const dir = "var/run/secrets/kubernetes.io/serviceaccount";
    const k = `${kubectlPath} --server=https://${node.host}:${node.apiPort} --certificate-authority=${dir}/ca.crt --token="$(cat ${dir}/token)"`;
    const script = [
      `echo "namespace: $(cat ${dir}/namespace)"`,
      `${k} get pods -n "$(cat ${dir}/namespace)" -o name`,
      `echo "pods-exit: $?"`,
      `${k} get secret db -n ${NS} 2>&1`,
      `echo "secret-exit: $?"`,
    ].join("; ");
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "robot", namespace: NS },
      spec: {
        restartPolicy: "Never",
        containers: [{ name: "main", image: "busybox", command: ["/bin/sh", "-c", script] }],
      },
    };
    await kubectlOk(cluster, ["create", "-f", "-"], JSON.stringify(pod));
    const spec = JSON.parse(
      await kubectlOk(cluster, ["get", "pod", "robot", "-n", NS, "-o", "json"]),
    ).spec;
    expect(spec.serviceAccountName).toBe("default");
    expect(spec.containers[0].volumeMounts[0].mountPath).toBe(
      "/var/run/secrets/kubernetes.io/serviceaccount",
    );
    await waitFor(
      "the pod to finish",
      async () =>
        /Succeeded|Failed/.test(
          await kubectlOk(cluster, [
            "get",
            "pod",
            "robot",
            "-n",
            NS,
            "-o",
            "jsonpath={.status.phase}",
          ]),
        ),
      60_000,
    );
    const logs = await kubectlOk(cluster, ["logs", "robot", "-n", NS]);
    expect(logs).toContain(`namespace: ${NS}`);
    expect(logs).toContain("pod/robot");
    expect(logs).toContain("pods-exit: 0");
    expect(logs).toContain(
      `secrets "db" is forbidden: User "system:serviceaccount:${NS}:default" cannot get resource "secrets"`,
    );
    expect(logs).toMatch(/secret-exit: [1-9]/);
  });
});
