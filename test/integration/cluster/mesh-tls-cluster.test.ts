/**
 * A `bosun up` cluster's mesh over mutual TLS (issue 18, item 1), from outside: every node
 * listens with TLS and the cluster forms; a plaintext peer and a peer with a foreign CA's
 * certificate are refused and the node logs why; a client member joins with only the token
 * (its certificate comes from the join exchange: an agent's, so the API servers let it speak
 * only for its own node, while a client holding the cluster CA stays the cluster's admin);
 * `bosun certs rotate` makes every node present a new certificate on new connections, without
 * a restart, while the cluster stays meshed.
 */
import { spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect as tlsConnect } from "node:tls";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  componentUser,
  KUBE_SCHEDULER_USER,
  nodeUser,
  type UserInfo,
} from "../../../actors/api/user-info.ts";
import { createCertificateAuthority, pkiPaths } from "../../../actors/apiserver/pki.ts";
import { ApiClient } from "../../../actors/client/api-client.ts";
import { ApiError } from "../../../actors/client/errors.ts";
import { SystemClock } from "../../../actors/system/clock.ts";
import { ClientNode, meshCaOption } from "../../../cmd/client-node.ts";
import { BOSUN_TS } from "../../../cmd/launcher.ts";
import type { NodeStatus } from "../../../cmd/node/introspection.ts";
import { meshCredentialPaths } from "../../../cmd/node/mesh-credentials.ts";
import { getJson, isReady } from "../../../cmd/node-client.ts";
import { MESH_PATH } from "../../../transport/mesh.ts";
import { issueNodeCertificate, type MeshTlsMaterial } from "../../../transport/node-certificate.ts";
import { LocalCluster } from "../../support/local-cluster.ts";
import { exited, runBosun } from "../../support/processes.ts";
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
    const client = await c().connectClient("token");
    expect(client.system.nodeId).toMatch(/^client-/);
    const put = await client.storeClient().put(Buffer.from("/mesh-tls/probe"), Buffer.from("ok"));
    expect(put.header.revision).toBeGreaterThan(0);
  });

  it("binds a component's declared identity to its link's certificate: an agent speaks only for its own node", async () => {
    const servers = Object.fromEntries(c().cluster.nodes.map((n) => [n.id, `${n.host}:${n.port}`]));
    const ids = Object.keys(servers);
    const connect = (admin: boolean) =>
      ClientNode.connect({
        servers,
        token: c().cluster.token,
        clock: new SystemClock(),
        logger: pino({ level: "silent" }),
        meshTls: true,
        ...(admin ? meshCaOption(c().runDir) : {}),
      });
    const members: ClientNode[] = [];
    try {
      // what the join token buys: an agent's certificate, system:node:<its id>
      const agent = await connect(false);
      members.push(agent);
      await agent.waitConnected(ids.length);
      const self = agent.system.nodeId;
      const as = (user: UserInfo | null) =>
        new ApiClient({ system: agent.system, servers: () => ids, ...(user ? { user } : {}) });
      const status = async (request: Promise<unknown>) =>
        request.then(
          () => 200,
          (err: unknown) => (err instanceof ApiError ? err.status.code : -1),
        );

      // its own kubelet identity works: it registers its own Node, as a kubelet does
      const node = { apiVersion: "v1", kind: "Node", metadata: { name: self } };
      expect((await as(nodeUser(self)).create("nodes", node)).metadata).toMatchObject({
        name: self,
      });
      // another node's, system:masters or a control-plane user's is refused, and says why
      await expect(as(nodeUser("n2")).get("nodes", self)).rejects.toThrow(
        /may not act as "system:node:n2"/,
      );
      expect(await status(as(nodeUser("n2")).get("nodes", self))).toBe(403);
      const master = { username: "mallory", groups: ["system:masters", "system:authenticated"] };
      expect(await status(as(master).list({ resource: "secrets", namespace: "kube-system" }))).toBe(
        403,
      );
      expect(await status(as(componentUser(KUBE_SCHEDULER_USER)).list({ resource: "pods" }))).toBe(
        403,
      );
      // undeclared, it is its certificate's node, not system:masters: no Secrets
      expect(await status(as(null).get("nodes", self))).toBe(200);
      expect(await status(as(null).list({ resource: "secrets", namespace: "kube-system" }))).toBe(
        403,
      );

      // a client holding the cluster CA (a server's certificate) is still the cluster's admin
      const admin = await connect(true);
      members.push(admin);
      await admin.waitConnected(ids.length);
      const adminApi = new ApiClient({ system: admin.system, servers: () => ids });
      const secrets = await adminApi.list({ resource: "secrets", namespace: "kube-system" });
      expect(Array.isArray(secrets.items)).toBe(true);
      await adminApi.delete("nodes", self);
    } finally {
      for (const member of members) await member.close();
    }
  });

  it("bosun hollow-nodes, with a hollow-nodes host's certificate, registers each hollow kubelet's Node", async () => {
    const hollow = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        BOSUN_TS,
        "hollow-nodes",
        "--run-dir",
        c().runDir,
        "--count",
        "2",
        "--prefix",
        "meshid-hollow-",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    hollow.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    hollow.stderr?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const names = ["meshid-hollow-0001", "meshid-hollow-0002"];
    const admin = await ClientNode.connect({
      servers: Object.fromEntries(c().cluster.nodes.map((n) => [n.id, `${n.host}:${n.port}`])),
      token: c().cluster.token,
      clock: new SystemClock(),
      logger: pino({ level: "silent" }),
      meshTls: true,
      ...meshCaOption(c().runDir),
    });
    const api = new ApiClient({
      system: admin.system,
      servers: () => c().cluster.nodes.map((n) => n.id),
    });
    try {
      const registered = await waitFor(
        "the hollow nodes to register",
        () => /"registered":\s*(\d+)/.exec(out)?.[1],
        60_000,
      );
      expect(Number(registered)).toBe(2);
      for (const name of names)
        expect((await api.get("nodes", name)).metadata).toMatchObject({ name });
    } finally {
      if (hollow.exitCode === null) hollow.kill("SIGTERM");
      await exited(hollow);
      for (const name of names) await api.delete("nodes", name).catch(() => undefined);
      await admin.close();
    }
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
