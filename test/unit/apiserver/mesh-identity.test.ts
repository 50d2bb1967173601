/**
 * meshUser: which identity a mesh request runs as, given the certificate its link verified and
 * what the component declared (auth/mesh-identity.ts, issue 18).
 */
import { describe, expect, it } from "vitest";
import {
  API_SERVER_USER,
  CLOUD_CONTROLLER_MANAGER_USER,
  componentUser,
  KUBE_CONTROLLER_MANAGER_USER,
  KUBE_DNS_USER,
  KUBE_PROXY_USER,
  KUBE_SCHEDULER_USER,
  LOCAL_PATH_PROVISIONER_USER,
  nodeUser,
  serviceAccountUser,
  type UserInfo,
} from "../../../actors/api/user-info.ts";
import { meshUser } from "../../../actors/apiserver/auth/mesh-identity.ts";
import {
  certificateGroups,
  type NodeCertificateRole,
  nodeCommonName,
} from "../../../transport/node-certificate.ts";
import { type PeerIdentity, tokenIdentity } from "../../../transport/peer-identity.ts";

function certified(nodeId: string, role: NodeCertificateRole): PeerIdentity {
  return {
    nodeId,
    commonName: nodeCommonName(nodeId),
    groups: certificateGroups(role),
    serialNumber: "0a",
    role,
  };
}

const agent = certified("n3", "agent");
const server = certified("n1", "server");
const hollowHost = certified("client-hollow", "hollow-nodes");
const masters: UserInfo = { username: "mallory", groups: ["system:masters"] };
const CONTROL_PLANE = [
  KUBE_SCHEDULER_USER,
  KUBE_CONTROLLER_MANAGER_USER,
  CLOUD_CONTROLLER_MANAGER_USER,
  API_SERVER_USER,
  KUBE_DNS_USER,
].map(componentUser);

function as(peer: PeerIdentity, declared: UserInfo | null) {
  return meshUser({ from: `${peer.nodeId}/api-client-1`, peer, declared });
}

function accepted(peer: PeerIdentity, declared: UserInfo | null): UserInfo {
  const r = as(peer, declared);
  if (!r.ok) throw new Error(`refused: ${r.reason}`);
  return r.user;
}

describe("meshUser on a plaintext mesh (no certificate binds anything)", () => {
  const peer = tokenIdentity("n3");
  it("trusts any declaration, as before", () => {
    expect(accepted(peer, nodeUser("n2"))).toEqual(nodeUser("n2"));
    expect(accepted(peer, masters)).toEqual(masters);
  });
  it("treats an undeclared request as the join-token holder's: system:masters", () => {
    expect(accepted(peer, null).groups).toContain("system:masters");
  });
});

describe("meshUser with an agent's certificate (what the join token buys)", () => {
  it("accepts its own kubelet identity", () => {
    expect(accepted(agent, nodeUser("n3"))).toEqual(nodeUser("n3"));
  });
  it("refuses another node's kubelet identity, and a node name outside system:nodes", () => {
    const other = as(agent, nodeUser("n2"));
    expect(other.ok).toBe(false);
    if (!other.ok) expect(other.reason).toMatch(/n3.*may not act as "system:node:n2"/);
    expect(as(agent, { username: "system:node:n2", groups: [] }).ok).toBe(false);
    expect(as(agent, { username: "imposter", groups: ["system:nodes"] }).ok).toBe(false);
  });
  it("refuses its own node name with system:masters or any other group added", () => {
    expect(as(agent, { ...nodeUser("n3"), groups: ["system:nodes", "system:masters"] }).ok).toBe(
      false,
    );
    expect(as(agent, { ...nodeUser("n3"), groups: ["system:nodes", "devs"] }).ok).toBe(false);
  });
  it("refuses system:masters and every control-plane user", () => {
    expect(as(agent, masters).ok).toBe(false);
    for (const user of CONTROL_PLANE) expect(as(agent, user).ok, user.username).toBe(false);
    expect(as(agent, serviceAccountUser("kube-system", "admin")).ok).toBe(false);
    expect(as(agent, componentUser("alice")).ok).toBe(false);
  });
  it("accepts the node components that run beside its kubelet, with no extra groups", () => {
    for (const name of [KUBE_PROXY_USER, LOCAL_PATH_PROVISIONER_USER])
      expect(accepted(agent, componentUser(name))).toEqual(componentUser(name));
    expect(as(agent, { username: KUBE_PROXY_USER, groups: ["system:masters"] }).ok).toBe(false);
  });
  it("drops a declared extra (a ServiceAccount token's pod binding is no component's)", () => {
    const user = accepted(agent, { ...nodeUser("n3"), extra: { x: ["y"] } });
    expect(user.extra).toBeUndefined();
  });
  it("runs an undeclared request as the certificate's own identity, not system:masters", () => {
    expect(accepted(agent, null)).toEqual({
      username: "system:node:n3",
      groups: ["system:nodes", "system:authenticated"],
    });
  });
});

describe("meshUser with a server's certificate (signed where the CA key is)", () => {
  it("accepts the control-plane users and system:masters", () => {
    for (const user of CONTROL_PLANE) expect(accepted(server, user)).toEqual(user);
    expect(accepted(server, masters)).toEqual(masters);
  });
  it("accepts its own kubelet identity but not another node's", () => {
    expect(accepted(server, nodeUser("n1"))).toEqual(nodeUser("n1"));
    expect(as(server, nodeUser("n2")).ok).toBe(false);
  });
  it("keeps an undeclared request in system:masters (the servers' own tools rely on it)", () => {
    const user = accepted(server, null);
    expect(user.groups).toContain("system:masters");
    expect(user.username).toBe("system:bosun:mesh:n1");
  });
});

describe("meshUser with a hollow-nodes host's certificate", () => {
  it("speaks for any node's kubelet, and as nothing else", () => {
    expect(accepted(hollowHost, nodeUser("hollow-0001"))).toEqual(nodeUser("hollow-0001"));
    expect(as(hollowHost, masters).ok).toBe(false);
    expect(as(hollowHost, componentUser(KUBE_SCHEDULER_USER)).ok).toBe(false);
    expect(as(hollowHost, componentUser(KUBE_PROXY_USER)).ok).toBe(false);
    expect(accepted(hollowHost, null).groups).not.toContain("system:masters");
  });
});
