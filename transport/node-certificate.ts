/**
 * Mesh node certificates (the kubelet's client/serving certificate, shrunk): signed by the
 * cluster CA, subject `CN=system:node:<id>, O=system:nodes` as Kubernetes names a node, usable
 * both to accept (serverAuth) and to dial (clientAuth), since every mesh link is mutual TLS.
 *
 * Keys come from node:crypto (native, fast); node-forge only assembles and signs the X.509.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import forge from "node-forge";

/** Short-lived on purpose: nodes are expected to rotate (see `Mesh.reloadTls`). */
export const NODE_CERT_VALIDITY_DAYS = 90;
const RSA_BITS = 2048;
const DAY_MS = 86_400_000;
/** Allowed clock skew between the signer and the node. */
const NOT_BEFORE_SLACK_MS = 3_600_000;

export const NODE_COMMON_NAME_PREFIX = "system:node:";
export const NODES_GROUP = "system:nodes";

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

/** Signs `publicKeyPem` as node `nodeId`'s mesh certificate. */
export function signNodeCertificate(
  ca: CertificateAuthorityPem,
  nodeId: string,
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
    { name: "organizationName", value: NODES_GROUP },
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
  nowMs: number,
  validityDays = NODE_CERT_VALIDITY_DAYS,
): MeshTlsMaterial {
  const key = generateNodeKey();
  return {
    caPem: ca.certPem,
    certPem: signNodeCertificate(ca, nodeId, key.publicKeyPem, nowMs, validityDays),
    keyPem: key.privateKeyPem,
  };
}
