/**
 * Who a request over the mesh is from. Each component declares its identity on its requests
 * (api-protocol.ts: `user`); the link the request came in on says which certificate its node
 * holds (transport/peer-identity.ts, handed over with the message by the actor system, never
 * read from the envelope), and a declaration is accepted only where that certificate allows it:
 *
 * - a kubelet's `system:node:<name>` (or anything in `system:nodes`) only from the node whose
 *   certificate is `system:node:<name>`, a server's included; a hollow-nodes host's certificate
 *   (`bosun hollow-nodes`, signed only by a CA holder) may speak for any node, as kubemark's
 *   hollow kubelets each would with their own credentials;
 * - `system:masters` and the control-plane users (scheduler, controller managers, apiserver,
 *   cluster DNS, any other user) only from a server's certificate: one a CA holder signed,
 *   never the join exchange (transport/node-certificate.ts);
 * - an agent's certificate (what the join token buys) may declare, besides its own kubelet,
 *   only the node-level components that run beside it: kube-proxy and the local-path
 *   provisioner, with no groups but `system:authenticated`.
 *
 * A request that declares nothing is the certificate's own identity: CN the user, O the groups
 * (`system:node:<name>` in `system:nodes` for an agent, so the Node authorizer and
 * NodeRestriction hold it to its node). From a server's certificate it stays a member of
 * `system:masters`, as before: the servers' own tools (`bosun secrets`, `bosun chaos`, test
 * and benchmark clients) sign their certificate with the run dir's CA and rely on it, and a CA
 * holder can mint any certificate anyway.
 *
 * On a plaintext mesh (`bosun node` without `--mesh-tls`: the in-process tests, the simulator)
 * the link proves only the join token, so nothing binds a declaration: it is trusted as
 * declared, and an undeclared request is a join-token holder's, `system:masters`, as it could
 * reach the raw store anyway (`/kv/put`).
 */
import {
  KUBE_PROXY_USER,
  LOCAL_PATH_PROVISIONER_USER,
  SYSTEM_AUTHENTICATED,
  SYSTEM_MASTERS,
  SYSTEM_NODES,
  type UserInfo,
} from "../../api/user-info.ts";
import type { MeshCaller } from "../internal-api.ts";

export type MeshUser = { ok: true; user: UserInfo } | { ok: false; reason: string };

/** What an agent's node runs besides its kubelet, and so may speak as. */
const NODE_COMPONENT_USERS: ReadonlySet<string> = new Set([
  KUBE_PROXY_USER,
  LOCAL_PATH_PROVISIONER_USER,
]);
const NODE_USER_PREFIX = "system:node:";

export function meshUser(caller: MeshCaller): MeshUser {
  const { peer, declared } = caller;
  if (peer.role === null || peer.commonName === null) {
    if (declared !== null) return { ok: true, user: declared };
    return { ok: true, user: meshMaster(peer.nodeId) };
  }
  if (declared === null) {
    if (peer.role === "server") return { ok: true, user: meshMaster(peer.nodeId) };
    return {
      ok: true,
      user: { username: peer.commonName, groups: [...peer.groups, SYSTEM_AUTHENTICATED] },
    };
  }
  const refused = (why: string): MeshUser => ({
    ok: false,
    reason: `mesh peer ${peer.nodeId} (${peer.role} certificate ${peer.commonName}) may not act as "${declared.username}": ${why}`,
  });
  if (declared.groups.includes(SYSTEM_MASTERS) && peer.role !== "server")
    return refused(`only a server's certificate may declare ${SYSTEM_MASTERS}`);
  if (isNodeIdentity(declared)) {
    if (!onlyGroups(declared, [SYSTEM_NODES, SYSTEM_AUTHENTICATED]))
      return refused(`a node's identity has no groups but ${SYSTEM_NODES}`);
    if (peer.role === "hollow-nodes" || declared.username === peer.commonName)
      return { ok: true, user: withoutExtra(declared) };
    return refused("a kubelet's identity only from the node its certificate names");
  }
  if (peer.role === "server") return { ok: true, user: declared };
  if (peer.role === "agent" && NODE_COMPONENT_USERS.has(declared.username)) {
    if (!onlyGroups(declared, [SYSTEM_AUTHENTICATED]))
      return refused(`a node component has no groups but ${SYSTEM_AUTHENTICATED}`);
    return { ok: true, user: withoutExtra(declared) };
  }
  return refused("only a server's certificate may declare a control-plane or other user");
}

/** An undeclared caller on a plaintext mesh, or with a server's certificate. */
function meshMaster(nodeId: string): UserInfo {
  return {
    username: `system:bosun:mesh:${nodeId}`,
    groups: [SYSTEM_MASTERS, SYSTEM_AUTHENTICATED],
  };
}

/** Anything the Node authorizer or NodeRestriction could take for a kubelet. */
function isNodeIdentity(user: UserInfo): boolean {
  return user.username.startsWith(NODE_USER_PREFIX) || user.groups.includes(SYSTEM_NODES);
}

function onlyGroups(user: UserInfo, allowed: readonly string[]): boolean {
  return user.groups.every((g) => allowed.includes(g));
}

/** `extra` scopes a ServiceAccount token to its pod: nothing a component declares for itself. */
function withoutExtra(user: UserInfo): UserInfo {
  return { username: user.username, groups: [...user.groups] };
}
