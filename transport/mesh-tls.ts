/**
 * The TLS side of the mesh: TLS 1.3 only, mutual (each end presents its node certificate and
 * verifies the other's against the cluster CA), and peers named by certificate, not by host:
 * a dialer checks that the acceptor's certificate is `system:node:<the peer it meant to dial>`;
 * the acceptor checks the dialer's against the node id its token handshake claims (mesh.ts).
 *
 * Rotation without a restart: `reload` swaps the secure context; new connections (dialed or
 * accepted) use the new certificate, established ones keep theirs until they reconnect.
 */
import type { PeerCertificate, SecureContext, TlsOptions } from "node:tls";
import { createSecureContext } from "node:tls";
import { type MeshTlsMaterial, nodeCommonName } from "./node-certificate.ts";

/** RFC 8446 only: no downgrade to 1.2's weaker suites and renegotiation. */
export const MESH_TLS_VERSION = "TLSv1.3";

/** The error a dialer raises when the acceptor's certificate names another node. */
export class PeerIdentityError extends Error {
  readonly code = "ERR_MESH_PEER_IDENTITY";
}

export class MeshTls {
  private material: MeshTlsMaterial;
  private context: SecureContext;

  constructor(material: MeshTlsMaterial) {
    this.material = material;
    this.context = secureContext(material);
  }

  /** The certificate this node presents now. */
  certPem(): string {
    return this.material.certPem;
  }

  /** Swaps in a new certificate (and CA); throws, keeping the old one, if it does not load. */
  reload(material: MeshTlsMaterial): void {
    const context = secureContext(material);
    this.material = material;
    this.context = context;
  }

  /** For `tls.createServer` and `setSecureContext`: a peer without a CA-signed cert is refused. */
  serverOptions(): TlsOptions {
    return {
      ca: this.material.caPem,
      cert: this.material.certPem,
      key: this.material.keyPem,
      minVersion: MESH_TLS_VERSION,
      requestCert: true,
      rejectUnauthorized: true,
    };
  }

  /** For a dial to `peerId` (ws passes these on to `tls.connect`). */
  dialOptions(peerId: string): {
    secureContext: SecureContext;
    minVersion: typeof MESH_TLS_VERSION;
    rejectUnauthorized: true;
    checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined;
  } {
    const expected = nodeCommonName(peerId);
    return {
      secureContext: this.context,
      minVersion: MESH_TLS_VERSION,
      rejectUnauthorized: true,
      // Peers are named by node id, not by address (a node may move): the CN is the name.
      checkServerIdentity: (_host, cert) => {
        const cn = cert.subject?.CN;
        return cn === expected
          ? undefined
          : new PeerIdentityError(`certificate is for '${String(cn)}', not '${expected}'`);
      },
    };
  }
}

function secureContext(material: MeshTlsMaterial): SecureContext {
  return createSecureContext({
    ca: material.caPem,
    cert: material.certPem,
    key: material.keyPem,
    minVersion: MESH_TLS_VERSION,
  });
}
