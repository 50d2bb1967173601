/**
 * Authentication and authorization with the real kubectl: a user kubeconfig from `bosun
 * kubeconfig --user` (a client certificate the cluster CA signed) and `kubectl auth can-i` for
 * each RBAC case Kubernetes documents (Role vs ClusterRole, namespace scoping, resourceNames,
 * subresources, non-resource URLs), roles and bindings made by `kubectl create role|rolebinding|
 * clusterrole|clusterrolebinding` (protobuf bodies), escalation refused, `--as` impersonation,
 * the admin kubeconfig keeping full access, and a kubelet's credentials refused another node's
 * pod's Secret (the Node authorizer).
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { LocalCluster } from "../../support/local-cluster.ts";
import { runBosun } from "../../support/processes.ts";
import { clusterForTests, kubectl, kubectlOk } from "./kubectl-harness.ts";

async function issueKubeconfig(
  cluster: LocalCluster,
  user: string,
  groups: string[] = [],
): Promise<string> {
  const file = join(cluster.runDir, `${user.replaceAll(":", "_")}.kubeconfig`);
  const args = ["kubeconfig", "--user", user, ...groups.flatMap((g) => ["--group", g])];
  const r = await runBosun([...args, "--out", file], { BOSUN_RUN_DIR: cluster.runDir });
  if (r.code !== 0) throw new Error(`bosun kubeconfig failed: ${r.stderr}`);
  return file;
}

describe("kubectl with RBAC", () => {
  const cluster = clusterForTests(1);
  let alice = "";
  const as = (file: string, args: string[]) => kubectl(cluster(), ["--kubeconfig", file, ...args]);
  /** `kubectl auth can-i` as alice: "yes" or "no". */
  const canI = async (...args: string[]) => {
    const r = await as(alice, ["auth", "can-i", ...args]);
    return r.stdout.trim();
  };

  it("the admin kubeconfig keeps full access; a new user has none beyond discovery", async () => {
    expect((await kubectlOk(cluster(), ["auth", "can-i", "*", "*"])).trim()).toBe("yes");
    alice = await issueKubeconfig(cluster(), "alice", ["devs"]);
    for (const ns of ["a", "b"]) await kubectlOk(cluster(), ["create", "namespace", ns]);
    expect(await canI("list", "pods", "-n", "a")).toBe("no");
    const refused = await as(alice, ["get", "pods", "-n", "a"]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(
      'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "a"',
    );
    // the certificate's O is a group RBAC sees
    const whoami = await as(alice, [
      "auth",
      "whoami",
      "-o",
      "jsonpath={.status.userInfo.username}",
    ]);
    if (whoami.code === 0) expect(whoami.stdout).toBe("alice");
  });

  it("a Role grants in its namespace only; a ClusterRole through a RoleBinding in the binding's; through a ClusterRoleBinding everywhere", async () => {
    await kubectlOk(cluster(), [
      "create",
      "role",
      "pod-reader",
      "-n",
      "a",
      "--verb=get,list",
      "--resource=pods",
    ]);
    await kubectlOk(cluster(), [
      "create",
      "rolebinding",
      "alice-pods",
      "-n",
      "a",
      "--role=pod-reader",
      "--user=alice",
    ]);
    expect(await canI("list", "pods", "-n", "a")).toBe("yes");
    expect(await canI("list", "pods", "-n", "b")).toBe("no");
    expect(await canI("delete", "pods", "-n", "a")).toBe("no");
    await kubectlOk(cluster(), [
      "create",
      "clusterrole",
      "deploy-reader",
      "--verb=get,list",
      "--resource=deployments.apps",
    ]);
    await kubectlOk(cluster(), [
      "create",
      "rolebinding",
      "devs-deploys",
      "-n",
      "b",
      "--clusterrole=deploy-reader",
      "--group=devs",
    ]);
    expect(await canI("list", "deployments.apps", "-n", "b")).toBe("yes");
    expect(await canI("list", "deployments.apps", "-n", "a")).toBe("no");
    expect(await canI("list", "nodes")).toBe("no");
    await kubectlOk(cluster(), [
      "create",
      "clusterrole",
      "node-reader",
      "--verb=get,list",
      "--resource=nodes",
    ]);
    await kubectlOk(cluster(), [
      "create",
      "clusterrolebinding",
      "alice-nodes",
      "--clusterrole=node-reader",
      "--user=alice",
    ]);
    expect(await canI("list", "nodes")).toBe("yes");
    expect((await as(alice, ["get", "pods", "-n", "a"])).code).toBe(0);
  });

  it("resourceNames, subresources and non-resource URLs", async () => {
    await kubectlOk(cluster(), [
      "create",
      "role",
      "one-config",
      "-n",
      "a",
      "--verb=get",
      "--resource=configmaps",
      "--resource-name=settings",
    ]);
    await kubectlOk(cluster(), [
      "create",
      "role",
      "pod-logs",
      "-n",
      "a",
      "--verb=get",
      "--resource=pods/log",
    ]);
    for (const role of ["one-config", "pod-logs"])
      await kubectlOk(cluster(), [
        "create",
        "rolebinding",
        `alice-${role}`,
        "-n",
        "a",
        `--role=${role}`,
        "--user=alice",
      ]);
    expect(await canI("get", "configmaps/settings", "-n", "a")).toBe("yes");
    expect(await canI("get", "configmaps/other", "-n", "a")).toBe("no");
    expect(await canI("list", "configmaps", "-n", "a")).toBe("no");
    expect(await canI("get", "pods", "--subresource=log", "-n", "a")).toBe("yes");
    expect(await canI("get", "pods", "--subresource=exec", "-n", "a")).toBe("no");
    await kubectlOk(cluster(), [
      "create",
      "clusterrole",
      "metrics",
      "--verb=get",
      "--non-resource-url=/metrics",
      "--non-resource-url=/logs/*",
    ]);
    await kubectlOk(cluster(), [
      "create",
      "clusterrolebinding",
      "alice-metrics",
      "--clusterrole=metrics",
      "--user=alice",
    ]);
    expect(await canI("get", "/metrics")).toBe("yes");
    expect(await canI("get", "/logs/kube.log")).toBe("yes");
    expect(await canI("post", "/metrics")).toBe("no");
    expect(await canI("get", "/debug")).toBe("no");
  });

  it("refuses a Role or binding granting what its writer does not hold", async () => {
    await kubectlOk(cluster(), [
      "create",
      "role",
      "role-writer",
      "-n",
      "a",
      "--verb=create,get",
      "--resource=roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io",
    ]);
    await kubectlOk(cluster(), [
      "create",
      "rolebinding",
      "alice-writes-roles",
      "-n",
      "a",
      "--role=role-writer",
      "--user=alice",
    ]);
    const ok = await as(alice, [
      "create",
      "role",
      "pods-too",
      "-n",
      "a",
      "--verb=get",
      "--resource=pods",
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    const escalating = await as(alice, [
      "create",
      "role",
      "secrets",
      "-n",
      "a",
      "--verb=get",
      "--resource=secrets",
    ]);
    expect(escalating.code).not.toBe(0);
    expect(escalating.stderr).toContain(
      "is attempting to grant RBAC permissions not currently held",
    );
    const binding = await as(alice, [
      "create",
      "rolebinding",
      "bob-admin",
      "-n",
      "a",
      "--clusterrole=cluster-admin",
      "--user=bob",
    ]);
    expect(binding.code).not.toBe(0);
    expect(binding.stderr).toContain("is attempting to grant RBAC permissions not currently held");
  });

  it("impersonates with --as when allowed to, and refuses otherwise", async () => {
    expect(
      (
        await kubectlOk(cluster(), ["auth", "can-i", "list", "pods", "-n", "a", "--as", "alice"])
      ).trim(),
    ).toBe("yes");
    expect(
      (
        await kubectl(cluster(), ["auth", "can-i", "list", "pods", "-n", "b", "--as", "alice"])
      ).stdout.trim(),
    ).toBe("no");
    const r = await as(alice, ["get", "pods", "-n", "a", "--as", "bob"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('cannot impersonate resource "users"');
  });

  it("a kubelet's credentials read the Secret of a pod on its node, not another node's pod's", async () => {
    for (const [secret, pod, node] of [
      ["s1", "p1", "n1"],
      ["s2", "p2", "n2"],
    ] as const) {
      await kubectlOk(cluster(), [
        "create",
        "secret",
        "generic",
        secret,
        "-n",
        "a",
        "--from-literal=k=v",
      ]);
      const manifest = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: pod, namespace: "a" },
        spec: {
          nodeName: node,
          containers: [{ name: "c", image: "bosun/pause" }],
          volumes: [{ name: "s", secret: { secretName: secret } }],
        },
      };
      await kubectlOk(cluster(), ["create", "-f", "-"], JSON.stringify(manifest));
    }
    const kubelet = await issueKubeconfig(cluster(), "system:node:n1", ["system:nodes"]);
    expect((await as(kubelet, ["get", "secret", "s1", "-n", "a"])).code).toBe(0);
    const other = await as(kubelet, ["get", "secret", "s2", "-n", "a"]);
    expect(other.code).not.toBe(0);
    expect(other.stderr).toContain(
      'secrets "s2" is forbidden: User "system:node:n1" cannot get resource "secrets"',
    );
    expect((await as(kubelet, ["get", "secrets", "-n", "a"])).code).not.toBe(0);
    // NodeRestriction: its own pods' status only
    const patch = JSON.stringify({ status: { phase: "Running" } });
    const own = await as(kubelet, [
      "patch",
      "pod",
      "p1",
      "-n",
      "a",
      "--subresource=status",
      "--type=merge",
      "-p",
      patch,
    ]);
    expect(own.code, own.stderr).toBe(0);
    const foreign = await as(kubelet, [
      "patch",
      "pod",
      "p2",
      "-n",
      "a",
      "--subresource=status",
      "--type=merge",
      "-p",
      patch,
    ]);
    expect(foreign.code).not.toBe(0);
  });
});
