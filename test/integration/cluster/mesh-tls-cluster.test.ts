/**
 * A `bosun up` cluster's mesh over mutual TLS (issue 18, item 1), from outside: every node
 * listens with TLS and the cluster forms; a plaintext peer and a peer with a foreign CA's
 * certificate are refused and the node logs why; a client member joins with only the token
 * (its certificate comes from the join exchange); `bosun certs rotate` makes every node present
 * a new certificate on new connections, without a restart, while the cluster stays meshed.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createCertificateAuthority, pkiPaths } from "../../../actors/apiserver/pki.ts";
import type { NodeStatus } from "../../../cmd/node/introspection.ts";
import { meshCredentialPaths } from "../../../cmd/node/mesh-credentials.ts";
import { getJson, isReady } from "../../../cmd/node-client.ts";
import { MESH_PATH } from "../../../transport/mesh.ts";
import { issueNodeCertificate, type MeshTlsMaterial } from "../../../transport/node-certificate.ts";
import { LocalCluster } from "../../support/local-cluster.ts";
import { runBosun } from "../../support/processes.ts";
import { waitFor } from "../../support/wait.ts";

let cluster: LocalCluster | undefined;
beforeAll(async () => {
  cluster = await LocalCluster.start(3);
});
afterAll(async () => {
  await cluster?.stop();
});

function c(): LocalCluster {
  if (cluster === undefined) throw new Error("the cluster has not started");
  return cluster;
}

function logLines(id: string): { msg?: string; reason?: string; tls?: boolean }[] {
  return readFileSync(c().node(id).logFile, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { msg?: string; reason?: string; tls?: boolean });
}

/** The serial of the certificate a node presents to a new TLS connection. */
function presentedSerial(id: string, client: MeshTlsMaterial): Promise<string> {
  const node = c().node(id);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: node.host,
      port: node.port,
      ca: client.caPem,
      cert: client.certPem,
      key: client.keyPem,
      minVersion: "TLSv1.3",
      checkServerIdentity: () => undefined,
    });
    socket.once("secureConnect", () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.destroy();
    });
    socket.once("error", reject);
  });
}

function clusterCa(): { certPem: string; keyPem: string } {
  const pki = pkiPaths(c().runDir);
  return { certPem: readFileSync(pki.caCert, "utf8"), keyPem: readFileSync(pki.caKey, "utf8") };
}

describe("a bosun up cluster meshes over mutual TLS", () => {
  it("every node listens with TLS and the cluster is meshed", async () => {
    for (const node of c().cluster.nodes) {
      expect(logLines(node.id).find((l) => l.msg === "mesh listening")?.tls).toBe(true);
      // up returns once Raft has a leader; readiness and the renewal actor may come a moment later
      await waitFor(`${node.id} ready`, async () => (await isReady(node)).ready);
      // its certificate, fresh, waits in `valid` for two thirds of its lifetime
      const renewal = await waitFor(`${node.id}'s renewal actor`, async () => {
        const status = await getJson<NodeStatus>(node, "/status");
        const actor = status.actors.find(
          (a) => a.address === `${node.id}/mesh-certificate-renewal`,
        );
        return actor?.state === "valid" && actor;
      });
      expect(renewal.state).toBe("valid");
    }
  });

  it("refuses a plaintext mesh peer with 403 and a logged reason", async () => {
    const n1 = c().node("n1");
    const ws = new WebSocket(`ws://${n1.host}:${n1.port}${MESH_PATH}`);
    const status = await new Promise<number>((resolve) => {
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.on("open", () => resolve(101));
      ws.on("error", () => resolve(-1));
    });
    ws.terminate();
    expect(status).toBe(403);
    await waitFor("n1 to log the refusal", () =>
      logLines("n1").some(
        (l) => l.msg === "refusing mesh peer" && /plaintext peer/.test(String(l.reason)),
      ),
    );
  });

  it("refuses a peer whose certificate a foreign CA signed", async () => {
    const foreign = createCertificateAuthority("bosun-ca", Date.now());
    const impostor = issueNodeCertificate(foreign, "n9", "server", Date.now());
    const n2 = c().node("n2");
    const ws = new WebSocket(`wss://${n2.host}:${n2.port}${MESH_PATH}`, {
      ca: readFileSync(pkiPaths(c().runDir).caCert, "utf8"),
      cert: impostor.certPem,
      key: impostor.keyPem,
      checkServerIdentity: () => true,
    });
    const outcome = await new Promise<string>((resolve) => {
      ws.on("open", () => resolve("open"));
      ws.on("unexpected-response", (_req, res) => resolve(String(res.statusCode)));
      ws.on("error", (err) => resolve(err.message));
    });
    ws.terminate();
    expect(outcome).not.toBe("open");
    await waitFor("n2 to log the refusal", () =>
      logLines("n2").some((l) => l.msg === "refusing mesh peer: TLS handshake failed"),
    );
  });

  it("lets a client member join with only the token", async () => {
    const client = await c().connectClient();
    expect(client.system.nodeId).toMatch(/^client-/);
    const put = await client.storeClient().put(Buffer.from("/mesh-tls/probe"), Buffer.from("ok"));
    expect(put.header.revision).toBeGreaterThan(0);
  });

  it("rotates every node's certificate without a restart", async () => {
    const probe = issueNodeCertificate(clusterCa(), "client-probe", "agent", Date.now());
    const fileSerial = (id: string) =>
      new X509Certificate(readFileSync(meshCredentialPaths(c().node(id).dataDir).cert, "utf8"))
        .serialNumber;
    const before = await presentedSerial("n1", probe);
    expect(before.toUpperCase()).toBe(fileSerial("n1").toUpperCase());
    const pids = c().cluster.nodes.map((n) => n.pid);

    const rotated = await runBosun(["certs", "rotate"], { BOSUN_RUN_DIR: c().runDir });
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/n1: certificate [0-9A-F]+, reloaded/);
    for (const node of c().cluster.nodes) {
      await waitFor(`${node.id} to reload`, () =>
        logLines(node.id).some((l) => l.msg === "mesh certificate reloaded"),
      );
    }
    const after = await presentedSerial("n1", probe);
    expect(after.toUpperCase()).toBe(fileSerial("n1").toUpperCase());
    expect(after).not.toBe(before);
    expect(c().cluster.nodes.map((n) => n.pid)).toEqual(pids);
    for (const node of c().cluster.nodes) expect((await isReady(node)).ready).toBe(true);
  });
});
