import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import { pkiPaths } from "../actors/apiserver/pki.ts";
import { ApiClient } from "../actors/client/api-client.ts";
import { ActorSystem } from "../actors/system/actor-system.ts";
import { type Clock, sleep } from "../actors/system/clock.ts";
import { nodeActorMachine } from "../actors/system/node-actor.ts";
import { StoreClient } from "../raft/client/store-client.ts";
import { requestNodeCertificate } from "../transport/join-certificate.ts";
import { CLIENT_ID_PREFIX, Mesh } from "../transport/mesh.ts";
import {
  type CertificateAuthorityPem,
  issueNodeCertificate,
  type NodeCertificateRole,
} from "../transport/node-certificate.ts";
import { readClusterFile } from "./cluster-file.ts";
import { Introspection, type LinkView } from "./node/introspection.ts";

/**
 * A short-lived client member of a cluster (a benchmark, `bosun chaos`): it dials every server
 * with the join token, as `client-<random>`, and talks to the store with real store clients —
 * sessions, retries and resuming watches included — over the same mesh the servers use.
 *
 * On a TLS mesh its certificate says what the API servers let it be (auth/mesh-identity.ts):
 * traded for the token, it is an agent's, speaking only for its own node; signed with the
 * cluster CA where that is at hand (`meshCa`: a tool run beside the run dir, as `bosun certs
 * rotate` is), it is a server's, whose undeclared requests are `system:masters`.
 */
export interface ClientNodeOptions {
  servers: Record<string, string>;
  token: string;
  clock: Clock;
  logger: Logger;
  /** The cluster's mesh is TLS: first get a certificate (join-protocol.ts, or `meshCa`). */
  meshTls?: boolean;
  /** The cluster CA: sign our own certificate, of `meshRole` (default a server's). */
  meshCa?: CertificateAuthorityPem;
  meshRole?: NodeCertificateRole;
}

/** `meshCa` for a client beside `runDir`'s cluster CA; none (an agent) if it cannot read it. */
export function meshCaOption(runDir: string): Pick<ClientNodeOptions, "meshCa"> {
  const meshCa = runDirMeshCa(runDir);
  return meshCa === undefined ? {} : { meshCa };
}

/** The cluster CA of a run dir, if this process can read it (it runs where `bosun up` did). */
export function runDirMeshCa(runDir: string): CertificateAuthorityPem | undefined {
  const pki = pkiPaths(runDir);
  try {
    return { certPem: readFileSync(pki.caCert, "utf8"), keyPem: readFileSync(pki.caKey, "utf8") };
  } catch {
    return undefined;
  }
}

const CONNECT_TIMEOUT_MS = 30_000;
const CONNECT_POLL_MS = 20;

export class ClientNode {
  private constructor(
    readonly system: ActorSystem,
    private readonly mesh: Mesh,
    private readonly servers: string[],
  ) {}

  static async connect(options: ClientNodeOptions): Promise<ClientNode> {
    const nodeId = `${CLIENT_ID_PREFIX}${randomBytes(6).toString("hex")}`;
    const tls = !options.meshTls
      ? undefined
      : options.meshCa !== undefined
        ? issueNodeCertificate(
            options.meshCa,
            nodeId,
            options.meshRole ?? "server",
            options.clock.wallMs(),
          )
        : await requestNodeCertificate({
            addresses: Object.values(options.servers),
            nodeId,
            token: options.token,
            clock: options.clock,
            timeoutMs: CONNECT_TIMEOUT_MS,
          });
    const mesh = new Mesh({
      nodeId,
      host: "127.0.0.1",
      port: 0,
      peers: options.servers,
      token: options.token,
      faultsEnabled: false,
      clock: options.clock,
      logger: options.logger,
      ...(tls ? { tls } : {}),
    });
    const system = new ActorSystem({
      nodeId,
      clock: options.clock,
      logger: options.logger,
      wire: mesh,
    });
    await mesh.start();
    const node = new ClientNode(system, mesh, Object.keys(options.servers));
    await node.waitConnected(1);
    return node;
  }

  /**
   * Joins the cluster of a run dir (its `cluster.json`: every server, the join token), as
   * `bosun hollow-nodes` and `bosun scheduler` do; with the ids of the servers that serve the
   * API (the ApiClient's `servers`). With the run dir's CA at hand, as a `role` certificate
   * (a server's unless said), else as an agent.
   */
  static async joinRunDir(
    runDir: string,
    clock: Clock,
    logger: Logger,
    role: NodeCertificateRole = "server",
  ): Promise<{ client: ClientNode; apiServers: string[] }> {
    const cluster = readClusterFile(runDir);
    const meshCa = runDirMeshCa(runDir);
    const client = await ClientNode.connect({
      servers: Object.fromEntries(cluster.nodes.map((n) => [n.id, `${n.host}:${n.port}`])),
      token: cluster.token,
      clock,
      logger,
      meshTls: cluster.meshTls === true,
      ...(meshCa !== undefined ? { meshCa, meshRole: role } : {}),
    });
    const apiServers = cluster.nodes.filter((n) => n.apiPort !== undefined).map((n) => n.id);
    return { client, apiServers };
  }

  /** Waits until at least `count` servers are connected. */
  async waitConnected(count: number): Promise<void> {
    const deadline = this.system.clock.nowMs() + CONNECT_TIMEOUT_MS;
    for (;;) {
      const up = Object.values(this.mesh.linkStates()).filter(
        (l) => l.state === "connected",
      ).length;
      if (up >= count) return;
      if (this.system.clock.nowMs() > deadline) {
        throw new Error(
          `connected to ${up} of ${this.servers.length} servers after ${CONNECT_TIMEOUT_MS} ms`,
        );
      }
      await sleep(this.system.clock, CONNECT_POLL_MS);
    }
  }

  /** A new store client (one session: use one per concurrent writer). */
  storeClient(requestTimeoutMs?: number): StoreClient {
    return new StoreClient({
      system: this.system,
      servers: () => this.servers,
      ...(requestTimeoutMs ? { requestTimeoutMs } : {}),
    });
  }

  /**
   * Answers inspection questions like a server does (the `node` actor), so that the actors this
   * client runs — `bosun chaos run`'s nemesis statechart — show in `bosun inspect
   * client-…/NAME --via nX`, asked over the mesh through a server.
   */
  serveInspection(): void {
    const introspection = new Introspection(
      this.system,
      // as the server's process.ts does: a link's status is the view's fields and more
      () => this.mesh.linkStates() as unknown as Record<string, LinkView>,
      false,
    );
    this.system.spawn("node", nodeActorMachine, { input: { port: introspection } });
  }

  /** A client of the servers' API (the objects, as kube-apiserver serves them). */
  apiClient(requestTimeoutMs?: number, maxAttempts?: number): ApiClient {
    return new ApiClient({
      system: this.system,
      servers: () => this.servers,
      ...(requestTimeoutMs ? { requestTimeoutMs } : {}),
      ...(maxAttempts ? { maxAttempts } : {}),
    });
  }

  async close(): Promise<void> {
    this.system.stop();
    await this.mesh.stop();
  }
}
