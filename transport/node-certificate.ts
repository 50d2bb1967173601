/**
 * Mesh node certificates (the kubelet's client/serving certificate, shrunk): signed by the
 * cluster CA, subject `CN=system:node:<id>, O=system:nodes` as Kubernetes names a node, usable
 * both to accept (serverAuth) and to dial (clientAuth), since every mesh link is mutual TLS.
 *
 * Two kinds, told apart by an extra O (the API server's mesh-identity.ts reads it):
 * - an agent's: what the join exchange signs for any join-token holder; it speaks only for its
 *   own node (its kubelet, kube-proxy, volumes);
 * - a server's, also in `system:bosun:control-plane`: signed only where the CA key is (a server
 *   given `--mesh-ca-*`, `bosun certs rotate`, a tool run beside the run dir's CA), never
 *   through the join exchange, so the token alone cannot buy control-plane rights.
 * A third, `system:bosun:hollow-nodes`, is a control-plane-signed agent that hosts many hollow
 * kubelets (kubemark) and so may speak for any node name but holds nothing else.
 *
 * Keys come from node:crypto (native, fast); node-forge only assembles and signs the X.509.
 */
import { generateKeyPairSync, randomBytes, X509Certificate } from "node:crypto";
import forge from "node-forge";

/** Short-lived on purpose: nodes are expected to rotate (see `Mesh.reloadTls`). */
export const NODE_CERT_VALIDITY_DAYS = 90;
const RSA_BITS = 2048;
const DAY_MS = 86_400_000;
/** Allowed clock skew between the signer and the node. */
const NOT_BEFORE_SLACK_MS = 3_600_000;

export const NODE_COMMON_NAME_PREFIX = "system:node:";
export const NODES_GROUP = "system:nodes";
/** The O that marks a server's certificate (signed by a CA holder, never by the join exchange). */
export const CONTROL_PLANE_GROUP = "system:bosun:control-plane";
/** The O that marks a hollow-nodes host's certificate (`bosun hollow-nodes`). */
export const HOLLOW_NODES_GROUP = "system:bosun:hollow-nodes";

/** Which kind of member a certificate is for; the join exchange signs only `agent`. */
export type NodeCertificateRole = "server" | "agent" | "hollow-nodes";

/** The certificate's O values for a role. */
export function certificateGroups(role: NodeCertificateRole): string[] {
  if (role === "server") return [NODES_GROUP, CONTROL_PLANE_GROUP];
  if (role === "hollow-nodes") return [NODES_GROUP, HOLLOW_NODES_GROUP];
  return [NODES_GROUP];
}

/** The role a certificate's O values say (an unknown or missing marker is an agent's). */
export function certificateRole(groups: readonly string[]): NodeCertificateRole {
  if (groups.includes(CONTROL_PLANE_GROUP)) return "server";
  if (groups.includes(HOLLOW_NODES_GROUP)) return "hollow-nodes";
  return "agent";
}

/** What the cluster CA signs with. */
export interface CertificateAuthorityPem {
  certPem: string;
  keyPem: string;
}

/** What a node presents on every mesh link, and the CA it trusts peers by. */
export interface MeshTlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export function nodeCommonName(nodeId: string): string {
  return `${NODE_COMMON_NAME_PREFIX}${nodeId}`;
}

/** A fresh node key pair; the private key never leaves the node (the CSR carries the public). */
export function generateNodeKey(): { publicKeyPem: string; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: RSA_BITS,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

/** A certificate's subject values for `key` (`CN`, `O`), in order; node prints one a line. */
export function subjectValues(cert: X509Certificate, key: string): string[] {
  return cert.subject
    .split("\n")
    .filter((line) => line.startsWith(`${key}=`))
    .map((line) => line.slice(key.length + 1));
}

/** The role of a PEM certificate, by its subject's O values. */
export function certificateRoleOfPem(certPem: string): NodeCertificateRole {
  return certificateRole(subjectValues(new X509Certificate(certPem), "O"));
}

/** Signs `publicKeyPem` as node `nodeId`'s mesh certificate, of `role`'s kind. */
export function signNodeCertificate(
  ca: CertificateAuthorityPem,
  nodeId: string,
  role: NodeCertificateRole,
  publicKeyPem: string,
  nowMs: number,
  validityDays = NODE_CERT_VALIDITY_DAYS,
): string {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f; // positive
  cert.serialNumber = serial.toString("hex");
  cert.validity.notBefore = new Date(nowMs - NOT_BEFORE_SLACK_MS);
  cert.validity.notAfter = new Date(nowMs + validityDays * DAY_MS);
  cert.setSubject([
    { name: "commonName", value: nodeCommonName(nodeId) },
    ...certificateGroups(role).map((value) => ({ name: "organizationName", value })),
  ]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true, clientAuth: true },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** A key and a signed certificate for `nodeId`, for a signer that holds the CA (`bosun up`). */
export function issueNodeCertificate(
  ca: CertificateAuthorityPem,
  nodeId: string,
  role: NodeCertificateRole,
  nowMs: number,
  validityDays = NODE_CERT_VALIDITY_DAYS,
): MeshTlsMaterial {
  const key = generateNodeKey();
  return {
    caPem: ca.certPem,
    certPem: signNodeCertificate(ca, nodeId, role, key.publicKeyPem, nowMs, validityDays),
    keyPem: key.privateKeyPem,
  };
}
