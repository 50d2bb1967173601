/**
 * Who a request over the mesh is from. The mesh authenticates nodes, not components: a peer
 * proves it holds the cluster join token (transport/handshake), and the envelope's `from`
 * names its node and actor. So each component declares its identity on its requests
 * (api-protocol.ts: `user`), and the API server authorizes it as that identity; a request that
 * declares none comes from a join-token holder, who can reach the raw store anyway
 * (`/kv/put`), and is treated as such: a member of `system:masters`.
 *
 * Where the mesh-certificate change binds it: once every link is mutual TLS with a certificate
 * per node from the cluster CA, the link will know its peer's certificate subject. Then this
 * function takes the peer's certificate identity from the link (CN `system:node:<name>` in O
 * `system:nodes` for an agent; a server's CN for its control-plane components) and accepts a
 * declaration only when the certificate allows it: a kubelet's `system:node:<name>` only from
 * the node whose certificate names it, the control-plane users only from server certificates,
 * and an undeclared request is then that certificate's identity instead of `system:masters`.
 */
import { SYSTEM_AUTHENTICATED, SYSTEM_MASTERS, type UserInfo } from "../../api/user-info.ts";
import type { MeshCaller } from "../internal-api.ts";

export function meshUser(caller: MeshCaller): UserInfo {
  if (caller.declared !== null) return caller.declared;
  const node = caller.from.split("/")[0] ?? "";
  return { username: `system:bosun:mesh:${node}`, groups: [SYSTEM_MASTERS, SYSTEM_AUTHENTICATED] };
}
