/**
 * Who is on the other end of a mesh link, as authenticated, not as claimed: the one place a
 * receiver (an authorizer: RBAC's Node authorizer, NodeRestriction) learns it. On a TLS mesh the
 * identity is the peer's certificate subject, verified against the cluster CA during the TLS
 * handshake and bound to the node id the token handshake names (a node cannot present n1's
 * certificate and claim to be n2). On a plaintext mesh only the token handshake vouches for the
 * peer, so `commonName` is null: an authorizer must then treat every peer as a cluster member.
 *
 * The actor system hands it to every actor with each message (ActorMessage `peer`), taken from
 * the link the envelope came in on, never from the envelope; a local send carries the node's own.
 */
import { X509Certificate } from "node:crypto";
import type { PeerCertificate, TLSSocket } from "node:tls";
import { certificateRole, type NodeCertificateRole, subjectValues } from "./node-certificate.ts";

export interface PeerIdentity {
  /** The node id the link is for (`n2`, `client-…`). */
  nodeId: string;
  /** The certificate's CN, e.g. `system:node:n2`; null on a plaintext mesh. */
  commonName: string | null;
  /** The certificate's O (groups, e.g. `system:nodes`); empty on a plaintext mesh. */
  groups: string[];
  /** The certificate's serial (hex), so logs show which certificate after a rotation. */
  serialNumber: string | null;
  /** A server's or an agent's certificate (node-certificate.ts); null on a plaintext mesh. */
  role: NodeCertificateRole | null;
}

/** A plaintext link's identity: the token handshake's word only. */
export function tokenIdentity(nodeId: string): PeerIdentity {
  return { nodeId, commonName: null, groups: [], serialNumber: null, role: null };
}

/** The verified certificate a TLS socket's peer presented, or undefined if it presented none. */
export function peerCertificateOf(socket: TLSSocket): PeerCertificate | undefined {
  const cert = socket.getPeerCertificate();
  return cert === null || Object.keys(cert).length === 0 ? undefined : cert;
}

export function certificateIdentity(nodeId: string, cert: PeerCertificate): PeerIdentity {
  const groups = allValues(cert.subject?.O);
  return {
    nodeId,
    commonName: firstValue(cert.subject?.CN) ?? null,
    groups,
    serialNumber: cert.serialNumber ?? null,
    role: certificateRole(groups),
  };
}

/** A node's own identity, from the certificate it presents (for what it sends to itself). */
export function ownIdentity(nodeId: string, certPem: string): PeerIdentity {
  const cert = new X509Certificate(certPem);
  const groups = subjectValues(cert, "O");
  return {
    nodeId,
    commonName: subjectValues(cert, "CN")[0] ?? null,
    groups,
    serialNumber: cert.serialNumber,
    role: certificateRole(groups),
  };
}

/** Node types subject fields as string or string[] when a name repeats. */
function allValues(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return allValues(value)[0];
}
