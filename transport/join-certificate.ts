/**
 * The two edges of the join-certificate exchange (join-protocol.ts): a server with the cluster
 * CA answers on its mesh port's HTTP side; a node with only the token asks the servers in turn
 * until one answers, and checks what it got before it trusts it.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { type Clock, sleep } from "../actors/system/clock.ts";
import { newNonce } from "./handshake.ts";
import {
  JOIN_CERTIFICATE_PATH,
  MAX_JOIN_REQUEST_BYTES,
  makeJoinReply,
  makeJoinRequest,
  verifyJoinReply,
  verifyJoinRequest,
} from "./join-protocol.ts";
import {
  type CertificateAuthorityPem,
  generateNodeKey,
  type MeshTlsMaterial,
  nodeCommonName,
  signNodeCertificate,
} from "./node-certificate.ts";

/** What a server needs to sign join requests. */
export interface JoinSigner {
  token: string;
  ca: CertificateAuthorityPem;
  wallMs: () => number;
}

/** One request's wait for an answer before the next server is tried. */
const JOIN_REQUEST_TIMEOUT_MS = 5_000;
const JOIN_RETRY_MS = 200;

/** Answers `POST /mesh/join-certificate`: 200 with a certificate, 403 on a failed proof. */
export function serveJoinCertificate(
  req: IncomingMessage,
  res: ServerResponse,
  signer: JoinSigner,
  log: Logger,
): void {
  if (req.method !== "POST") {
    res.writeHead(405, { allow: "POST" }).end();
    return;
  }
  const chunks: Buffer[] = [];
  let bytes = 0;
  req.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > MAX_JOIN_REQUEST_BYTES) {
      res.writeHead(413, { connection: "close" }).end();
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on("end", () => {
    if (res.headersSent) return;
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      res.writeHead(400).end("body is not JSON");
      return;
    }
    const checked = verifyJoinRequest(signer.token, body);
    const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    if (!checked.ok) {
      log.warn({ remote, reason: checked.reason }, "refusing join-certificate request");
      res.writeHead(403).end(checked.reason);
      return;
    }
    const { request } = checked;
    let certPem: string;
    try {
      // the token proves membership, not a role: whoever holds it gets an agent's certificate
      certPem = signNodeCertificate(
        signer.ca,
        request.nodeId,
        "agent",
        request.publicKeyPem,
        signer.wallMs(),
      );
    } catch (err) {
      res.writeHead(400).end(`cannot sign that key: ${(err as Error).message}`);
      return;
    }
    log.info({ remote, node: request.nodeId }, "issued a mesh node certificate");
    const reply = makeJoinReply(signer.token, request, certPem, signer.ca.certPem);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(reply));
  });
}

/**
 * A fresh key and a certificate for `nodeId` from whichever of `addresses` ("host:port" mesh
 * ports) answers first, checked: signed by the CA the reply's MAC vouches for, for our key and
 * our name. Retries until `timeoutMs`.
 */
export async function requestNodeCertificate(args: {
  addresses: readonly string[];
  nodeId: string;
  token: string;
  clock: Clock;
  timeoutMs: number;
}): Promise<MeshTlsMaterial> {
  if (args.addresses.length === 0) throw new Error("no server to ask for a node certificate");
  const key = generateNodeKey();
  const deadline = args.clock.nowMs() + args.timeoutMs;
  const errors = new Map<string, string>();
  for (;;) {
    for (const address of args.addresses) {
      try {
        return await askOne(address, args.nodeId, args.token, key);
      } catch (err) {
        errors.set(address, (err as Error).message);
      }
    }
    if (args.clock.nowMs() > deadline) {
      const why = [...errors].map(([a, e]) => `${a}: ${e}`).join("; ");
      throw new Error(
        `no node certificate for ${args.nodeId} within ${args.timeoutMs} ms (${why})`,
      );
    }
    await sleep(args.clock, JOIN_RETRY_MS);
  }
}

async function askOne(
  address: string,
  nodeId: string,
  token: string,
  key: { publicKeyPem: string; privateKeyPem: string },
): Promise<MeshTlsMaterial> {
  const request = makeJoinRequest(token, nodeId, key.publicKeyPem, newNonce());
  const response = await fetch(`http://${address}${JOIN_CERTIFICATE_PATH}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(request),
    signal: AbortSignal.timeout(JOIN_REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`HTTP ${response.status} ${text}`);
  const checked = verifyJoinReply(token, request, JSON.parse(text));
  if (!checked.ok) throw new Error(checked.reason);
  const { certPem, caPem } = checked.reply;
  const cert = new X509Certificate(certPem);
  if (!cert.verify(new X509Certificate(caPem).publicKey))
    throw new Error("the certificate is not signed by the CA sent with it");
  if (!cert.checkPrivateKey(createPrivateKey(key.privateKeyPem)))
    throw new Error("the certificate is not for our key");
  if (!cert.subject.split("\n").includes(`CN=${nodeCommonName(nodeId)}`))
    throw new Error(`the certificate is not for ${nodeCommonName(nodeId)}: ${cert.subject}`);
  return { caPem, certPem, keyPem: key.privateKeyPem };
}
