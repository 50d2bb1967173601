/**
 * Where a node's mesh certificate comes from (issue 18: the join token only bootstraps it).
 * Kept in `<data-dir>/mesh/` (ca.crt, node.crt, node.key): a server given the cluster CA signs
 * its own, a server's certificate (node-certificate.ts), when it has none; any other node asks a
 * server for one with the join token (join-protocol.ts), which is always an agent's, and keeps
 * it, so a restart needs no token exchange. A server started without the CA is thus an agent to
 * the API servers: its control-plane components are refused. `reload` re-reads the
 * files: `bosun certs rotate` writes new ones and sends SIGHUP.
 */
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Clock } from "../../actors/system/clock.ts";
import { type JoinSigner, requestNodeCertificate } from "../../transport/join-certificate.ts";
import {
  type CertificateAuthorityPem,
  certificateRoleOfPem,
  issueNodeCertificate,
  type MeshTlsMaterial,
} from "../../transport/node-certificate.ts";

/** How long a joining node keeps asking the servers for its certificate. */
const JOIN_CERTIFICATE_TIMEOUT_MS = 60_000;

export interface MeshCredentialFlags {
  dataDir: string;
  /** The cluster CA, on a server that signs (`bosun up` passes the run dir's). */
  caCertFile?: string;
  caKeyFile?: string;
}

export interface MeshCredentials {
  material: MeshTlsMaterial;
  signer?: JoinSigner;
}

export function meshCredentialPaths(dataDir: string): { ca: string; cert: string; key: string } {
  const dir = join(dataDir, "mesh");
  return { ca: join(dir, "ca.crt"), cert: join(dir, "node.crt"), key: join(dir, "node.key") };
}

/** Reads this node's certificate, key and CA from its data dir. */
export function readMeshCredentials(dataDir: string): MeshTlsMaterial {
  const p = meshCredentialPaths(dataDir);
  return {
    caPem: readFileSync(p.ca, "utf8"),
    certPem: readFileSync(p.cert, "utf8"),
    keyPem: readFileSync(p.key, "utf8"),
  };
}

/** Writes them (the key 0600), each file atomically, so a reload never reads half a file. */
export function writeMeshCredentials(dataDir: string, material: MeshTlsMaterial): void {
  const p = meshCredentialPaths(dataDir);
  mkdirSync(join(dataDir, "mesh"), { recursive: true, mode: 0o700 });
  const write = (path: string, text: string, mode: number) => {
    writeFileSync(`${path}.tmp`, text, { mode });
    renameSync(`${path}.tmp`, path);
  };
  write(p.ca, material.caPem, 0o644);
  write(p.key, material.keyPem, 0o600);
  write(p.cert, material.certPem, 0o644);
}

/** A new certificate for this node, written to its data dir: signed locally or asked for. */
export async function renewMeshCredentials(args: {
  nodeId: string;
  dataDir: string;
  signer: JoinSigner | undefined;
  token: string;
  peerAddresses: readonly string[];
  clock: Clock;
}): Promise<MeshTlsMaterial> {
  const material =
    args.signer !== undefined
      ? issueNodeCertificate(args.signer.ca, args.nodeId, "server", args.clock.wallMs())
      : await requestNodeCertificate({
          addresses: args.peerAddresses,
          nodeId: args.nodeId,
          token: args.token,
          clock: args.clock,
          timeoutMs: JOIN_CERTIFICATE_TIMEOUT_MS,
        });
  writeMeshCredentials(args.dataDir, material);
  return material;
}

/** The validity window of the certificate in the data dir, in wall-clock ms. */
export function meshCertificateValidity(dataDir: string): {
  notBeforeMs: number;
  notAfterMs: number;
} {
  const cert = new X509Certificate(readFileSync(meshCredentialPaths(dataDir).cert, "utf8"));
  return { notBeforeMs: Date.parse(cert.validFrom), notAfterMs: Date.parse(cert.validTo) };
}

/** This node's mesh credentials: kept ones, self-signed on a CA holder, or asked for. */
export async function obtainMeshCredentials(args: {
  nodeId: string;
  flags: MeshCredentialFlags;
  token: string;
  peerAddresses: readonly string[];
  clock: Clock;
}): Promise<MeshCredentials> {
  const { nodeId, flags, token, clock } = args;
  const p = meshCredentialPaths(flags.dataDir);
  const kept = existsSync(p.cert) && existsSync(p.key) && existsSync(p.ca);
  let signer: JoinSigner | undefined;
  if (flags.caCertFile !== undefined && flags.caKeyFile !== undefined) {
    const ca: CertificateAuthorityPem = {
      certPem: readFileSync(flags.caCertFile, "utf8"),
      keyPem: readFileSync(flags.caKeyFile, "utf8"),
    };
    signer = { token, ca, wallMs: () => clock.wallMs() };
  }
  // a kept certificate from another CA (the run dir's PKI was recreated) is useless, and one
  // from before certificates had roles would make this server an agent to the API servers
  const stale =
    signer !== undefined &&
    kept &&
    (readFileSync(p.ca, "utf8") !== signer.ca.certPem ||
      certificateRoleOfPem(readFileSync(p.cert, "utf8")) !== "server");
  if (!kept || stale) {
    const { peerAddresses } = args;
    await renewMeshCredentials({
      nodeId,
      dataDir: flags.dataDir,
      signer,
      token,
      peerAddresses,
      clock,
    });
  }
  return { material: readMeshCredentials(flags.dataDir), ...(signer ? { signer } : {}) };
}
