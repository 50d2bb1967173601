/**
 * Mutual TLS on the mesh (issue 18, item 1), on real sockets: node certificates from the
 * cluster CA, refusal of a plaintext peer and of a foreign CA's certificate with a logged reason,
 * the authenticated identity handed to the receiver, rotation without a restart, and the
 * join-certificate exchange that turns a join token into a node certificate.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createCertificateAuthority } from "../../../actors/apiserver/pki.ts";
import { SystemClock } from "../../../actors/system/clock.ts";
import { requestNodeCertificate } from "../../../transport/join-certificate.ts";
import { JOIN_CERTIFICATE_PATH, makeJoinRequest } from "../../../transport/join-protocol.ts";
import {
  generateNodeKey,
  issueNodeCertificate,
  type NodeCertificateRole,
} from "../../../transport/node-certificate.ts";
import { Cluster, connected, eventually, type TestNode, TOKEN, tell } from "./mesh-harness.ts";

const cluster = new Cluster();
afterEach(() => cluster.stopAll());

const now = Date.now();
const clusterCa = createCertificateAuthority("bosun-ca", now);
const foreignCa = createCertificateAuthority("bosun-ca", now); // same name, other key
const material = (id: string, ca = clusterCa, role: NodeCertificateRole = "server") =>
  issueNodeCertificate(ca, id, role, now);

function refusals(node: TestNode) {
  return node.logs.filter((l) => typeof l.msg === "string" && l.msg.startsWith("refusing mesh"));
}

describe("mesh: mutual TLS with node certificates from the cluster CA", () => {
  it("links two nodes over TLS 1.3 and hands the receiver the peer's certificate CN, O and role", async () => {
    const n1 = await cluster.start("n1", { tls: material("n1") });
    const n2 = await cluster.start("n2", { tls: material("n2", clusterCa, "agent") });
    cluster.connect(n1, n2);
    await connected(n1, n2);
    expect(n1.mesh.send(tell("n1", "n2", "over tls"))).toEqual({ ok: true });
    expect(n2.mesh.send(tell("n2", "n1", "and back"))).toEqual({ ok: true });
    await eventually(() => expect(n2.inbox).toHaveLength(1));
    await eventually(() => expect(n1.inbox).toHaveLength(1));
    expect(n2.inbox[0]?.identity).toMatchObject({
      nodeId: "n1",
      commonName: "system:node:n1",
      groups: ["system:nodes", "system:bosun:control-plane"],
      role: "server",
    });
    expect(n1.inbox[0]?.identity).toMatchObject({
      commonName: "system:node:n2",
      groups: ["system:nodes"],
      role: "agent",
    });
    // what a node sends itself carries its own certificate's identity
    expect(n1.mesh.localIdentity()).toMatchObject({ commonName: "system:node:n1", role: "server" });
    expect(n2.mesh.localIdentity().role).toBe("agent");
    expect(n2.mesh.peerIdentity("n1")?.commonName).toBe("system:node:n1");
    expect(n1.mesh.counters().tlsRefused).toBe(0);
  });

  it("refuses a plaintext peer with a logged reason and delivers nothing", async () => {
    const plain = await cluster.start("n1");
    const secure = await cluster.start("n2", { tls: material("n2") });
    cluster.connect(plain, secure);
    await eventually(() => expect(refusals(secure).length).toBeGreaterThan(0));
    expect(refusals(secure)[0]?.reason).toMatch(/plaintext peer: this mesh requires mutual TLS/);
    expect(secure.mesh.counters().tlsRefused).toBeGreaterThan(0);
    expect(plain.mesh.send(tell("n1", "n2", "in clear"))).toEqual({ ok: true }); // queued only
    // the dialer learns it from the 403 a moment after the acceptor logged it
    await eventually(() => expect(plain.mesh.linkStates().n2?.lastError).toMatch(/403/));
    expect(secure.mesh.linkStates().n1?.state).not.toBe("connected");
    expect(secure.inbox).toHaveLength(0);
  });

  it("refuses a dialer whose certificate a foreign CA signed", async () => {
    const impostor = await cluster.start("n1", { tls: material("n1", foreignCa) });
    const secure = await cluster.start("n2", { tls: material("n2") });
    cluster.connect(impostor, secure);
    await eventually(() => expect(refusals(secure).length).toBeGreaterThan(0));
    expect(refusals(secure)[0]).toMatchObject({ msg: "refusing mesh peer: TLS handshake failed" });
    // and the impostor, dialing, refuses the real node's certificate as well: neither trusts
    await eventually(() => expect(refusals(impostor).length).toBeGreaterThan(0));
    expect(refusals(impostor)[0]?.reason).toMatch(/certificate/);
    expect(secure.mesh.linkStates().n1?.state).not.toBe("connected");
    expect(impostor.mesh.linkStates().n2?.state).not.toBe("connected");
    expect(secure.inbox).toHaveLength(0);
  });

  it("refuses an acceptor whose certificate a foreign CA signed", async () => {
    const secure = await cluster.start("n1", { tls: material("n1") });
    const impostor = await cluster.start("n2", { tls: material("n2", foreignCa) });
    cluster.connect(secure, impostor);
    await eventually(() => expect(refusals(secure).length).toBeGreaterThan(0));
    expect(refusals(secure)[0]).toMatchObject({
      msg: "refusing mesh peer: TLS handshake failed",
      peer: "n2",
    });
    expect(refusals(secure)[0]?.reason).toMatch(/certificate/);
    expect(secure.mesh.linkStates().n2?.state).not.toBe("connected");
  });

  it("refuses a CA-signed certificate presented under another node's name", async () => {
    // n3's certificate, used by a node that claims to be n1
    const stolen = await cluster.start("n1", { tls: material("n3") });
    const secure = await cluster.start("n2", { tls: material("n2") });
    cluster.connect(stolen, secure);
    await eventually(() =>
      expect(secure.logs.some((l) => /claims to be 'system:node:n1'/.test(String(l.reason)))).toBe(
        true,
      ),
    );
    expect(secure.mesh.linkStates().n1?.state).not.toBe("connected");
    expect(secure.inbox).toHaveLength(0);
  });

  it("rotates a certificate without a restart: the next connection presents the new one", async () => {
    const first = material("n1");
    const n1 = await cluster.start("n1", { tls: first });
    const n2 = await cluster.start("n2", { tls: material("n2") });
    cluster.connect(n1, n2);
    await connected(n1, n2);
    const oldSerial = n2.mesh.peerIdentity("n1")?.serialNumber;
    expect(oldSerial).toBeTruthy();

    const rotated = material("n1");
    expect(() => n1.mesh.reloadTls({ ...rotated, keyPem: first.keyPem })).toThrow(); // mismatched
    n1.mesh.reloadTls(rotated);
    // the established link is untouched by the reload
    expect(n1.mesh.send(tell("n1", "n2", "same socket"))).toEqual({ ok: true });
    await eventually(() => expect(n2.inbox).toHaveLength(1));
    expect(n2.mesh.peerIdentity("n1")?.serialNumber).toBe(oldSerial);

    // a new connection (n2 forgets and re-learns n1) carries the new certificate
    n2.mesh.removePeer("n1");
    n2.mesh.addPeer("n1", n1.address);
    await connected(n1, n2);
    const newSerial = n2.mesh.peerIdentity("n1")?.serialNumber;
    expect(newSerial).toBeTruthy();
    expect(newSerial).not.toBe(oldSerial);
    expect(n1.mesh.send(tell("n1", "n2", "new certificate"))).toEqual({ ok: true });
    await eventually(() =>
      expect(n2.inbox.map((m) => m.envelope.body)).toContain("new certificate"),
    );
  });
});

describe("mesh: the join token bootstraps a node certificate", () => {
  const signer = () => ({ token: TOKEN, ca: clusterCa, wallMs: () => Date.now() });

  it("gives a token holder a certificate it then joins the TLS mesh with", async () => {
    const server = await cluster.start("n1", { tls: material("n1"), joinSigner: signer() });
    const issued = await requestNodeCertificate({
      addresses: [server.address],
      nodeId: "n2",
      token: TOKEN,
      clock: new SystemClock(),
      timeoutMs: 5_000,
    });
    expect(issued.caPem).toBe(clusterCa.certPem);
    const joiner = await cluster.start("n2", { tls: issued });
    cluster.connect(server, joiner);
    await connected(server, joiner);
    expect(server.mesh.peerIdentity("n2")?.commonName).toBe("system:node:n2");
    // the token buys membership, never a server's certificate
    expect(server.mesh.peerIdentity("n2")?.role).toBe("agent");
    expect(server.logs.some((l) => l.msg === "issued a mesh node certificate")).toBe(true);
  });

  it("refuses a request without the token's proof, and a client refuses a reply without it", async () => {
    const server = await cluster.start("n1", { tls: material("n1"), joinSigner: signer() });
    const key = generateNodeKey();
    const forged = makeJoinRequest("guessed-token", "n9", key.publicKeyPem, new Uint8Array(32));
    const response = await fetch(`http://${server.address}${JOIN_CERTIFICATE_PATH}`, {
      method: "POST",
      body: JSON.stringify(forged),
    });
    expect(response.status).toBe(403);
    expect(await response.text()).toBe("join token proof failed");
    expect(server.logs.find((l) => l.msg === "refusing join-certificate request")?.reason).toBe(
      "join token proof failed",
    );
    // a client holding another token cannot verify this server's reply: it trusts nothing
    await expect(
      requestNodeCertificate({
        addresses: [server.address],
        nodeId: "n2",
        token: "another-cluster",
        clock: new SystemClock(),
        timeoutMs: 0,
      }),
    ).rejects.toThrow(/join token proof failed/);
  });
});
