/**
 * The cluster's PKI, as `bosun up` creates it (kubeadm's layout, shrunk): a self-signed cluster
 * CA and one server certificate per API server, signed by the CA, with the server's IP as a
 * subject alternative name, so kubectl can verify whichever server it talks to.
 *
 * Keys come from node:crypto (fast, native); node-forge only assembles and signs the X.509.
 */

import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import forge from "node-forge";
import { KUBERNETES_SERVICE_IP } from "../api/well-known.ts";

export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

/** kubeadm issues its CA for 10 years and serving certificates for 1. */
const CA_VALIDITY_DAYS = 3650;
const SERVER_VALIDITY_DAYS = 365;
/** kubeadm's client certificates (admin.conf) last a year too. */
const CLIENT_VALIDITY_DAYS = 365;
const RSA_BITS = 2048;
const DAY_MS = 86_400_000;

function rsaKeyPair(): { publicPem: string; privatePem: string } {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: RSA_BITS,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
  });
  return { publicPem: publicKey, privatePem: privateKey };
}

function serialNumber(): string {
  // positive: the top bit of the first byte clear
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f;
  return bytes.toString("hex");
}

function validity(cert: forge.pki.Certificate, nowMs: number, days: number): void {
  // an hour of slack for clocks a little behind
  cert.validity.notBefore = new Date(nowMs - 3_600_000);
  cert.validity.notAfter = new Date(nowMs + days * DAY_MS);
}

export function createCertificateAuthority(commonName: string, nowMs: number): KeyPairPem {
  const keys = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicPem);
  cert.serialNumber = serialNumber();
  validity(cert, nowMs, CA_VALIDITY_DAYS);
  const subject = [{ name: "commonName", value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keys.privatePem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privatePem };
}

/** A serving certificate for `hosts` (IP addresses or DNS names), signed by `ca`. */
export function createServerCertificate(
  ca: KeyPairPem,
  commonName: string,
  hosts: readonly string[],
  nowMs: number,
): KeyPairPem {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const keys = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicPem);
  cert.serialNumber = serialNumber();
  validity(cert, nowMs, SERVER_VALIDITY_DAYS);
  cert.setSubject([{ name: "commonName", value: commonName }]);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h }));
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    { name: "subjectAltName", altNames },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privatePem };
}

/**
 * A client certificate for `user` in `groups`, signed by `ca`: the x509 authenticator takes
 * the subject's CN as the user name and each O as a group (kubeadm's admin.conf is CN
 * kubernetes-admin, O system:masters).
 */
export function createClientCertificate(
  ca: KeyPairPem,
  user: string,
  groups: readonly string[],
  nowMs: number,
): KeyPairPem {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const keys = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicPem);
  cert.serialNumber = serialNumber();
  validity(cert, nowMs, CLIENT_VALIDITY_DAYS);
  cert.setSubject([
    ...groups.map((g) => ({ name: "organizationName", value: g })),
    { name: "commonName", value: user },
  ]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", clientAuth: true },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privatePem };
}

/** kube-apiserver's certificate names its Service's DNS names (kubeadm's apiserver SANs). */
const KUBERNETES_SERVICE_DNS_NAMES = [
  "kubernetes",
  "kubernetes.default",
  "kubernetes.default.svc",
  "kubernetes.default.svc.cluster.local",
];

/** Where the PKI lives in a run dir. */
export interface PkiPaths {
  dir: string;
  caCert: string;
  caKey: string;
  adminToken: string;
  /** The ServiceAccount token signing key (kubeadm's sa.key), shared by every API server. */
  serviceAccountKey: string;
  serverCert: (nodeId: string) => string;
  serverKey: (nodeId: string) => string;
}

export function pkiPaths(runDir: string): PkiPaths {
  const dir = join(runDir, "pki");
  return {
    dir,
    caCert: join(dir, "ca.crt"),
    caKey: join(dir, "ca.key"),
    adminToken: join(dir, "admin-token"),
    serviceAccountKey: join(dir, "sa.key"),
    serverCert: (id) => join(dir, `${id}-apiserver.crt`),
    serverKey: (id) => join(dir, `${id}-apiserver.key`),
  };
}

/**
 * Creates (or keeps, on a second `up` of the same run dir) the CA, the admin token and the
 * ServiceAccount signing key, and issues a
 * server certificate for every node. Returns the CA and the token.
 */
export function ensureClusterPki(
  runDir: string,
  nodes: readonly { id: string; host: string }[],
  nowMs: number,
): { ca: KeyPairPem; adminToken: string } {
  const p = pkiPaths(runDir);
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  let ca: KeyPairPem;
  if (existsSync(p.caCert) && existsSync(p.caKey)) {
    ca = { certPem: readFileSync(p.caCert, "utf8"), keyPem: readFileSync(p.caKey, "utf8") };
  } else {
    ca = createCertificateAuthority("bosun-ca", nowMs);
    writeFileSync(p.caCert, ca.certPem);
    writeFileSync(p.caKey, ca.keyPem, { mode: 0o600 });
  }
  let adminToken: string;
  if (existsSync(p.adminToken)) adminToken = readFileSync(p.adminToken, "utf8").trim();
  else {
    adminToken = randomBytes(32).toString("hex");
    writeFileSync(p.adminToken, `${adminToken}\n`, { mode: 0o600 });
  }
  if (!existsSync(p.serviceAccountKey))
    writeFileSync(p.serviceAccountKey, rsaKeyPair().privatePem, { mode: 0o600 });
  for (const node of nodes) {
    const server = createServerCertificate(
      ca,
      `bosun-apiserver-${node.id}`,
      // the `kubernetes` Service's address and names too, as kube-apiserver's certificate has
      [node.host, "localhost", "127.0.0.1", KUBERNETES_SERVICE_IP, ...KUBERNETES_SERVICE_DNS_NAMES],
      nowMs,
    );
    writeFileSync(p.serverCert(node.id), server.certPem);
    writeFileSync(p.serverKey(node.id), server.keyPem, { mode: 0o600 });
  }
  return { ca, adminToken };
}
