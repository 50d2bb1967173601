import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import { EXEC_STREAMS_ACTOR, type ExecStartReply } from "../../actors/api/exec-protocol.ts";
import {
  KUBELET_ACTOR,
  type KubeletLogsReply,
  type KubeletLogsRequest,
} from "../../actors/api/kubelet-protocol.ts";
import type { KubeletSummary } from "../../actors/api/stats-protocol.ts";
import { API_SERVER_USER, componentUser, KUBE_DNS_USER } from "../../actors/api/user-info.ts";
import { Auditor } from "../../actors/apiserver/audit.ts";
import { DEFAULT_AUDIT_LOG_LIMITS, RotatingAuditLog } from "../../actors/apiserver/audit-log.ts";
import { parseAuditPolicy } from "../../actors/apiserver/audit-policy.ts";
import { startCompactor } from "../../actors/apiserver/compactor.ts";
import {
  ENDPOINT_RECONCILER_ACTOR,
  endpointReconcilerMachine,
} from "../../actors/apiserver/endpoint-reconciler.ts";
import { execStreamsMachine } from "../../actors/apiserver/exec-streams.ts";
import { DEFAULT_IN_FLIGHT_LIMITS } from "../../actors/apiserver/max-in-flight.ts";
import type { MetricsSource } from "../../actors/apiserver/metrics-api.ts";
import { type ExecDelivery, PodExecServer } from "../../actors/apiserver/pod-exec.ts";
import type { PodLogRead, PodLogs } from "../../actors/apiserver/pod-logs.ts";
import { PodPortForwardServer } from "../../actors/apiserver/pod-portforward.ts";
import { ApiServer } from "../../actors/apiserver/server.ts";
import {
  SERVICE_ALLOCATION_REPAIR_ACTOR,
  serviceAllocationRepairMachine,
} from "../../actors/apiserver/service-allocation-repair.ts";
import { ApiClient } from "../../actors/client/api-client.ts";
import type { LeaderElectionTimings } from "../../actors/client/leader-election.ts";
import type { HpaOptions } from "../../actors/controllers/horizontal-pod-autoscaler.ts";
import { type DnsHandle, startDns } from "../../actors/dns/dns.ts";
import type { QueryTally } from "../../actors/dns/dns-metrics.ts";
import { registerDnsMetrics } from "../../actors/dns/dns-metrics.ts";
import { InspectorUi } from "../../actors/inspector/inspector-ui.ts";
import { registerProxyMetrics } from "../../actors/proxy/proxy-metrics.ts";
import type { ProxyMode } from "../../actors/proxy/proxy-mode.ts";
import { ActorSystem } from "../../actors/system/actor-system.ts";
import { type Clock, sleep } from "../../actors/system/clock.ts";
import { echoMachine } from "../../actors/system/echo.ts";
import { nodeActorMachine } from "../../actors/system/node-actor.ts";
import { peerMonitorMachine } from "../../actors/system/peer-monitor.ts";
import { parseClockSkew, SkewedClock } from "../../actors/system/skewed-clock.ts";
import type { ConfState } from "../../raft/core/messages.ts";
import { decodeMemberContext } from "../../raft/replica/membership.ts";
import { DiskFaultPoint } from "../../raft/storage/disk-faults.ts";
import { isClientId, Mesh } from "../../transport/mesh.ts";
import { createAdminHandler } from "./admin-http.ts";
import { applyEncryptionConfig } from "./encryption-at-rest.ts";
import { Introspection, type LinkView } from "./introspection.ts";
import { meshCertificateRenewalMachine, renewalDueAtMs } from "./mesh-certificate-renewal.ts";
import {
  type MeshCredentials,
  meshCertificateValidity,
  readMeshCredentials,
  renewMeshCredentials,
} from "./mesh-credentials.ts";
import { createMetrics } from "./metrics.ts";
import { DEFAULT_ELECTION_TICKS, DEFAULT_TICK_INTERVAL_MS, ServerRole } from "./server-role.ts";
import { WorkloadsRole } from "./workloads-role.ts";

export type NodeRole = "server" | "agent";

/** How long the API server waits for a kubelet's answer to one pods/log read. */
const POD_LOGS_TIMEOUT_MS = 5_000;
/** A kubelet that has not answered its Summary API by then is left out of metrics.k8s.io. */
const METRICS_TIMEOUT_MS = 2_000;

/** How long a stopping node gives its kubelet, controllers and scheduler to wind down. */
const WORKLOADS_STOP_MS = 3_000;

export interface NodeConfig {
  id: string;
  role: NodeRole;
  /** The bootstrap voters: ids of every server of the initial cluster. */
  servers: string[];
  tickIntervalMs?: number;
  electionTick?: number;
  /** Run the controller manager and scheduler on a server with an API server (default true). */
  controlPlane?: boolean;
  /** Run a kubelet on this node (registers the Node, runs its pods). Default false. */
  kubelet?: boolean;
  /** Snapshot + compact every this many applied entries (default: the replica's). */
  snapshotEntries?: number;
  /** Compact the store's history this often on a server (0: never; default 5 min). */
  compactionIntervalMs?: number;
  /** How long a node's Lease may stand still before it is Unknown (default 4 s). */
  nodeMonitorGracePeriodMs?: number;
  /** --horizontal-pod-autoscaler-*: the HPA controller's timings. */
  hpa?: Partial<HpaOptions>;
  /** --leader-elect-*: the controller manager's and scheduler's election timings. */
  leaderElection?: Partial<LeaderElectionTimings>;
  /** --udp-timeout: the service proxy's idle UDP flow lifetime (default: the proxy's). */
  udpIdleTimeoutMs?: number;
  /** --proxy-mode: the service proxy's data path (default "auto"). */
  proxyMode?: ProxyMode | "auto";
  /** --cluster-domain: the cluster DNS zone (default `cluster.local`). */
  clusterDomain?: string;
  /** --dns-ttl: the cluster DNS server's TTL (default 5 s). */
  dnsTtlSeconds?: number;
  /** --dns-port: the one port the DNS server binds (default: 53, falling back to 10053). */
  dnsPort?: number;
  /** --cloud-provider external: the cloud config file (absent: no cloud integration). */
  cloudConfigFile?: string;
  host: string;
  port: number;
  peers: Record<string, string>;
  dataDir: string;
  token: string;
  faults: boolean;
  pingIntervalMs?: number;
  /** The Kubernetes API server of a server node (absent: none). */
  api?: ApiConfig;
  /** --authorization-mode: `RBAC` (Node,RBAC; the default) or `AlwaysAllow` (no authorization). */
  authorizationMode?: "RBAC" | "AlwaysAllow";
  /** --service-account-key-file's key: signs and verifies ServiceAccount tokens. */
  serviceAccountKeyPem?: string;
  /** Mutual TLS on the mesh (absent: plaintext links, authenticated by the token only). */
  meshTls?: MeshCredentials;
}

export interface ApiConfig {
  port: number;
  tokenFile: string;
  /** PEM files; required unless `insecure` (plain HTTP). */
  certFile?: string;
  keyFile?: string;
  /** The CA whose client certificates authenticate (kube-apiserver's --client-ca-file). */
  clientCaFile?: string;
  insecure: boolean;
  /** `--audit-policy-file` and where its events go; absent, nothing is audited. */
  audit?: AuditConfig;
  /** `--max-requests-inflight`, `--max-mutating-requests-inflight`. */
  inFlight?: { maxReadOnly: number; maxMutating: number };
  /** kube-apiserver's --encryption-provider-config: Secrets encrypted at rest. */
  encryptionConfigFile?: string;
}

export interface AuditConfig {
  policyFile: string;
  /** A file, or `-` for stdout. */
  logPath: string;
  /** `--audit-log-maxsize`, in megabytes as kube-apiserver's flag. */
  maxSizeMb: number;
  maxBackups: number;
}

const PING_TIMEOUT_MS = 1_000;

function withProxyMetrics(
  registry: ReturnType<typeof createMetrics>,
  report: Parameters<typeof registerProxyMetrics>[1],
) {
  registerProxyMetrics(registry, report);
  return registry;
}

/**
 * One `bosun node` process, composed: the mesh (transport), the actor system on top of it, the
 * node and peer-monitor actors, and the HTTP surface sharing the mesh's port.
 */
export class NodeProcess {
  readonly system: ActorSystem;
  readonly mesh: Mesh;
  private readonly introspection: Introspection;
  private stopping: Promise<void> | null = null;
  server: ServerRole | null = null;
  apiServer: ApiServer | null = null;
  private auditLog: RotatingAuditLog | null = null;
  workloads: WorkloadsRole | null = null;
  /** The cluster DNS server of a server node with an API server. */
  dns: DnsHandle | null = null;
  private readonly dnsTally: QueryTally;
  private compactor: { stop(): void } | null = null;
  /** The browser inspector served under `/ui`. */
  private ui: InspectorUi | null = null;
  /** The slow-disk failpoint, only with --faults. */
  private readonly diskFaults: DiskFaultPoint | null;
  /** The clock-skew failpoint (every timer of the node runs on it), only with --faults. */
  private readonly skewedClock: SkewedClock | null;
  /** Whether this server is in the membership (bootstrap members are from the start). */
  private wasMember: boolean;
  port = 0;

  constructor(
    readonly config: NodeConfig,
    systemClock: Clock,
    private readonly logger: Logger,
  ) {
    this.skewedClock = config.faults ? new SkewedClock(systemClock) : null;
    const clock = this.skewedClock ?? systemClock;
    this.wasMember = config.servers.includes(config.id);
    // before anything reads the store: an encrypted value must never be read undecrypted
    if (config.api?.encryptionConfigFile !== undefined)
      applyEncryptionConfig(config.api.encryptionConfigFile, config.dataDir);
    this.diskFaults = config.faults ? new DiskFaultPoint(clock) : null;
    let handler: ReturnType<typeof createAdminHandler> | undefined;
    this.mesh = new Mesh({
      nodeId: config.id,
      host: config.host,
      port: config.port,
      peers: config.peers,
      token: config.token,
      faultsEnabled: config.faults,
      acceptClients: config.role === "server",
      clock,
      logger,
      httpHandler: (req, res) => handler?.(req, res),
      ...(config.meshTls
        ? {
            tls: config.meshTls.material,
            ...(config.meshTls.signer ? { joinSigner: config.meshTls.signer } : {}),
          }
        : {}),
      // every link actor's events go to the ring under its own address, `nX/link:PEER`
      inspect: (event) => this.system?.inspectExternal(event),
    });
    this.system = new ActorSystem({
      nodeId: config.id,
      clock,
      logger,
      wire: this.mesh,
      termOf: () => this.server?.replica.term ?? null,
    });
    this.introspection = new Introspection(
      this.system,
      () => this.mesh.linkStates() as unknown as Record<string, LinkView>,
      config.faults,
      () => this.server?.replica.status() ?? null,
    );
    const metrics = withProxyMetrics(
      createMetrics(() => this.introspection.status()),
      () => this.workloads?.proxyReport() ?? null,
    );
    this.dnsTally = registerDnsMetrics(metrics);
    handler = createAdminHandler({
      system: this.system,
      introspection: this.introspection,
      metrics,
      token: config.token,
      ready: () => this.readiness(),
      setFaultRules: (rules) => this.mesh.setFaultRules(rules),
      setDiskFaults: (body) => {
        if (this.diskFaults === null) {
          throw new Error(`fault injection is disabled on ${config.id}: start it with --faults`);
        }
        this.diskFaults.setSyncDelayMs((body as { syncDelayMs?: unknown } | null)?.syncDelayMs);
        this.logger.warn({ syncDelayMs: this.diskFaults.syncDelayMs }, "disk faults set");
      },
      setClockSkew: (body) => {
        if (this.skewedClock === null) {
          throw new Error(`fault injection is disabled on ${config.id}: start it with --faults`);
        }
        this.skewedClock.set(parseClockSkew(body));
        this.logger.warn({ ...this.skewedClock.skew }, "clock skew set");
      },
      storeClient: () => this.server?.client ?? null,
      membership: () => this.server?.membership ?? null,
      ui: () => this.ui,
    });
  }

  async start(): Promise<number> {
    this.system.spawn("node", nodeActorMachine, { input: { port: this.introspection } });
    this.system.spawn("echo", echoMachine);
    this.ui = new InspectorUi({
      system: this.system,
      token: this.config.token,
      logger: this.logger.child({ component: "inspector" }),
      nodes: () => this.clusterNodes(),
    });
    const { port } = await this.mesh.start();
    this.port = port;
    for (const [peer, actor] of Object.entries(this.mesh.linkActors())) {
      this.system.adopt(`link:${peer}`, actor, { inspected: true });
    }
    if (this.config.meshTls !== undefined) this.spawnCertificateRenewal(this.config.meshTls);
    this.system.spawn("peer-monitor", peerMonitorMachine, {
      input: {
        peers: Object.keys(this.config.peers),
        pingIntervalMs: this.config.pingIntervalMs,
        pinger: { ping: (peer: string) => this.ping(peer) },
      },
    });
    if (this.config.role === "server") {
      this.server = await ServerRole.start(
        {
          nodeId: this.config.id,
          dataDir: this.config.dataDir,
          voters: this.config.servers,
          tickIntervalMs: this.config.tickIntervalMs ?? DEFAULT_TICK_INTERVAL_MS,
          electionTick: this.config.electionTick ?? DEFAULT_ELECTION_TICKS,
          snapshotEntries: this.config.snapshotEntries,
          ...(this.config.api ? { podLogs: this.podLogs(), metrics: this.metricsSource() } : {}),
          diskFaults: this.diskFaults ?? undefined,
          authorization: this.config.authorizationMode !== "AlwaysAllow",
          ...(this.config.serviceAccountKeyPem
            ? { serviceAccountKeyPem: this.config.serviceAccountKeyPem }
            : {}),
        },
        this.system,
        this.logger,
        (error) => this.onFatal(error),
        (confState, context) => this.onMembersChanged(confState, context),
      );
      const server = this.server;
      // every server runs one, as every kube-apiserver does: the claim txn lets one act each time
      this.compactor = startCompactor(this.system, {
        store: () => server.client,
        ...(this.config.compactionIntervalMs !== undefined
          ? { limits: { intervalMs: this.config.compactionIntervalMs } }
          : {}),
        logger: this.logger.child({ component: "compactor" }),
      });
      if (this.config.api) await this.startApiServer(this.config.api, this.server);
    }
    await this.startWorkloads();
    this.watchLinksForLeaderLoss();
    this.logger.info({ port, peers: this.config.peers, role: this.config.role }, "node started");
    return port;
  }

  /** Controller manager and scheduler on servers; a kubelet where asked (servers too, by default). */
  private async startWorkloads(): Promise<void> {
    const controlPlane =
      this.config.role === "server" &&
      this.config.api !== undefined &&
      this.config.controlPlane !== false;
    const kubelet = this.config.kubelet === true;
    if (!controlPlane && !kubelet) return;
    const server = this.server;
    const members = () => (server ? server.replica.members().voters : this.config.servers);
    this.workloads = new WorkloadsRole(
      {
        nodeId: this.config.id,
        host: this.config.host,
        dataDir: this.config.dataDir,
        controlPlane,
        kubelet,
        reservedAddresses: [
          this.config.host,
          ...Object.values(this.config.peers).map((a) => a.split(":")[0] ?? ""),
        ],
        servers: members,
        ...(this.config.nodeMonitorGracePeriodMs !== undefined
          ? { nodeMonitorGracePeriodMs: this.config.nodeMonitorGracePeriodMs }
          : {}),
        ...(this.config.hpa ? { hpa: this.config.hpa } : {}),
        ...(this.config.leaderElection ? { leaderElection: this.config.leaderElection } : {}),
        // the proxies of one cluster on one host share its cluster-IP listeners: the join token
        // names the cluster (hashed into the lock's name, never shown)
        clusterIdentity: this.config.token,
        ...(this.config.proxyMode !== undefined ? { proxyMode: this.config.proxyMode } : {}),
        ...(this.config.api?.clientCaFile
          ? { rootCaPem: readFileSync(this.config.api.clientCaFile, "utf8") }
          : {}),
        ...(this.config.udpIdleTimeoutMs !== undefined
          ? { udpIdleTimeoutMs: this.config.udpIdleTimeoutMs }
          : {}),
        ...(this.config.clusterDomain !== undefined
          ? { clusterDomain: this.config.clusterDomain }
          : {}),
        ...(this.config.cloudConfigFile !== undefined
          ? { cloudConfigFile: this.config.cloudConfigFile }
          : {}),
      },
      this.system,
      this.logger,
    );
    await this.workloads.start();
  }

  /** The policy is read once at start, as kube-apiserver reads it; a bad one stops the node. */
  private openAudit(audit: AuditConfig): Auditor {
    const policy = parseAuditPolicy(readFileSync(audit.policyFile, "utf8"));
    const clock = this.system.clock;
    this.auditLog = new RotatingAuditLog(
      audit.logPath,
      {
        maxFileBytes:
          audit.maxSizeMb > 0
            ? audit.maxSizeMb * 1024 * 1024
            : DEFAULT_AUDIT_LOG_LIMITS.maxFileBytes,
        maxBackups: audit.maxBackups,
      },
      () => clock.wallMs(),
    );
    return new Auditor(policy, this.auditLog, clock);
  }

  private async startApiServer(api: ApiConfig, server: ServerRole): Promise<void> {
    if (!api.insecure && (!api.certFile || !api.keyFile))
      throw new Error("the API server needs --api-cert and --api-key (or --api-insecure)");
    this.apiServer = new ApiServer({
      host: this.config.host,
      port: api.port,
      tls:
        api.insecure || !api.certFile || !api.keyFile
          ? null
          : {
              certPem: readFileSync(api.certFile, "utf8"),
              keyPem: readFileSync(api.keyFile, "utf8"),
              ...(api.clientCaFile ? { clientCaPem: readFileSync(api.clientCaFile, "utf8") } : {}),
            },
      token: readFileSync(api.tokenFile, "utf8").trim(),
      clock: this.system.clock,
      logger: this.logger.child({ component: "apiserver" }),
      handler: server.apiHandler,
      tokenAuthenticators: server.tokenAuthenticators(),
      ready: () => this.readiness(),
      podExec: this.podExec(server),
      podPortForward: new PodPortForwardServer({
        store: server.apiHandler.store,
        logger: this.logger.child({ component: "apiserver-portforward" }),
      }),
      ...(api.audit ? { audit: this.openAudit(api.audit) } : {}),
      ...(api.inFlight ? { inFlight: { ...DEFAULT_IN_FLIGHT_LIMITS, ...api.inFlight } } : {}),
    });
    await this.apiServer.start();
    const members = () => server.replica.members().voters;
    // cluster DNS on every server (DESIGN §7), behind the kube-dns Service the reconciler keeps
    this.dns = startDns({
      system: this.system,
      source: new ApiClient({
        system: this.system,
        servers: members,
        user: componentUser(KUBE_DNS_USER),
      }),
      logger: this.logger.child({ component: "dns" }),
      host: this.config.host,
      ...(this.config.dnsPort !== undefined ? { ports: [this.config.dnsPort] } : {}),
      ...(this.config.clusterDomain !== undefined ? { domain: this.config.clusterDomain } : {}),
      ...(this.config.dnsTtlSeconds !== undefined
        ? { limits: { ttlSeconds: this.config.dnsTtlSeconds } }
        : {}),
      tally: this.dnsTally,
    });
    const dns = this.dns;
    // the `kubernetes` Service's endpoints list every live API server (lease.go's reconciler)
    this.system.spawn(ENDPOINT_RECONCILER_ACTOR, endpointReconcilerMachine, {
      supervise: false,
      input: {
        api: new ApiClient({
          system: this.system,
          servers: members,
          user: componentUser(API_SERVER_USER),
        }),
        clock: this.system.clock,
        nodeId: this.config.id,
        endpoint: `${this.config.host}:${this.apiServer.port}`,
        dnsEndpoint: () => (dns.port() > 0 ? `${this.config.host}:${dns.port()}` : null),
        logger: this.logger.child({ component: "kubernetes-endpoints" }),
      },
    });
    this.system.spawn(SERVICE_ALLOCATION_REPAIR_ACTOR, serviceAllocationRepairMachine, {
      supervise: false,
      input: {
        allocator: server.apiHandler.services,
        logger: this.logger.child({ component: SERVICE_ALLOCATION_REPAIR_ACTOR }),
      },
    });
  }

  /** Takes this API server out of the `kubernetes` endpoints (bounded by the reconciler). */
  private leaveKubernetesEndpoints(): Promise<void> {
    const reconciler = this.system.actorRef(ENDPOINT_RECONCILER_ACTOR);
    if (reconciler === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const sub = reconciler.subscribe((s: { status: string }) => {
        if (s.status !== "done") return;
        sub.unsubscribe();
        resolve();
      });
      if (reconciler.getSnapshot().status === "done") resolve();
      reconciler.send({ type: "reconciler.stop" });
    });
  }

  /**
   * pods/exec: the API server's sessions, relayed to the kubelet of the pod's node over the
   * mesh; what kubelets send back arrives at the exec-streams actor.
   */
  private podExec(server: ServerRole): PodExecServer {
    const from = this.system.address(EXEC_STREAMS_ACTOR);
    const podExec = new PodExecServer({
      store: server.apiHandler.store,
      logger: this.logger.child({ component: "apiserver-exec" }),
      relay: {
        replyTo: from,
        start: (node, request) =>
          this.system.ask<ExecStartReply>(
            from,
            `${node}/${KUBELET_ACTOR}`,
            "kubelet.exec.start",
            request,
            POD_LOGS_TIMEOUT_MS,
          ),
        tell: (node, kind, body) => this.system.tell(from, `${node}/${KUBELET_ACTOR}`, kind, body),
      },
    });
    this.system.spawn(EXEC_STREAMS_ACTOR, execStreamsMachine, {
      input: { port: { deliver: (delivery: ExecDelivery) => podExec.deliver(delivery) } },
    });
    return podExec;
  }

  /** metrics.k8s.io: each node's kubelet answers its Summary API over the mesh. */
  private metricsSource(): MetricsSource {
    return {
      summaries: async (nodes: string[]) => {
        const answers = await Promise.all(
          nodes.map((node) =>
            this.system
              .ask<KubeletSummary>(
                this.system.address("apiserver-metrics"),
                `${node}/${KUBELET_ACTOR}`,
                "kubelet.stats",
                null,
                METRICS_TIMEOUT_MS,
              )
              .catch(() => null),
          ),
        );
        return answers.filter((a): a is KubeletSummary => a !== null);
      },
    };
  }

  /** pods/log: the kubelet on the pod's node answers over the mesh. */
  private podLogs(): PodLogs {
    return {
      read: ({ node, ...request }: PodLogRead) =>
        this.system.ask<KubeletLogsReply>(
          this.system.address("apiserver-logs"),
          `${node}/${KUBELET_ACTOR}`,
          "kubelet.logs",
          request satisfies KubeletLogsRequest,
          POD_LOGS_TIMEOUT_MS,
        ),
      unfollow: (node: string, follower: string) => {
        this.system.tell(
          this.system.address("apiserver-logs"),
          `${node}/${KUBELET_ACTOR}`,
          "kubelet.logs.unfollow",
          { follower },
        );
      },
    };
  }

  /** This node and every peer it links to (client members are not cluster nodes). */
  clusterNodes(): string[] {
    const peers = Object.keys(this.mesh.linkStates()).filter((p) => !isClientId(p));
    return [this.config.id, ...peers].sort();
  }

  /** Ready when this node's peer monitor sees every peer answer and, on a server, Raft is. */
  readiness(): { ready: boolean; reason: string } {
    const monitor = this.system.actorRef("peer-monitor");
    const value = monitor?.getSnapshot().value as { mesh?: string } | undefined;
    if (value?.mesh !== "meshed") {
      return { ready: false, reason: `peer-monitor is ${value?.mesh ?? "not started"}` };
    }
    if (this.config.role === "server") {
      if (this.server === null) return { ready: false, reason: "store opening" };
      const raft = this.server.readiness();
      if (!raft.ready) return raft;
      if (this.apiServer && !this.apiServer.bootstrapped) {
        return { ready: false, reason: "API server creating the system namespaces" };
      }
      return raft;
    }
    return { ready: true, reason: "meshed" };
  }

  /**
   * The Raft membership changed: the mesh learns a new member's address from the change's
   * context and forgets removed members. A server removed itself stops: it is no longer part
   * of the cluster (like etcd, it must not campaign and disturb the others).
   */
  private onMembersChanged(confState: ConfState, context: Uint8Array): void {
    const members = new Set([...confState.voters, ...confState.learners]);
    const added = decodeMemberContext(context);
    if (added && added.id !== this.config.id && members.has(added.id)) {
      this.mesh.addPeer(added.id, added.address);
    }
    for (const peer of Object.keys(this.mesh.linkStates())) {
      if (!isClientId(peer) && !members.has(peer)) this.mesh.removePeer(peer);
    }
    // A joining server replays changes from before its own addition: only a server that was a
    // member and is no longer has been removed.
    if (members.has(this.config.id)) this.wasMember = true;
    else if (this.wasMember) {
      this.logger.warn(
        { members: [...members] },
        "this server was removed from the cluster: stopping",
      );
      this.stop().finally(() => process.exit(0));
    }
  }

  /** A link that was connected and is no longer: tell the replica (fast failover). */
  private watchLinksForLeaderLoss(): void {
    for (const [peer, actor] of Object.entries(this.mesh.linkActors())) {
      let was = String(actor.getSnapshot().value);
      actor.subscribe((snapshot) => {
        const now = String(snapshot.value);
        if (was === "connected" && now !== "connected")
          this.server?.replica.peerConnectionLost(peer);
        was = now;
      });
    }
  }

  /** The replica cannot go on: stop serving and exit non-zero (a supervisor restarts us). */
  private onFatal(error: Error): void {
    this.logger.fatal({ error: error.message }, "fatal: stopping the node");
    this.stop().finally(() => process.exit(70));
  }

  /** Renews the mesh certificate at two thirds of its lifetime, without a restart. */
  private spawnCertificateRenewal(credentials: MeshCredentials): void {
    const { clock } = this.system;
    this.system.spawn("mesh-certificate-renewal", meshCertificateRenewalMachine, {
      input: {
        dueInMs: () => {
          const { notBeforeMs, notAfterMs } = meshCertificateValidity(this.config.dataDir);
          return renewalDueAtMs(notBeforeMs, notAfterMs) - clock.wallMs();
        },
        renew: async () => {
          const material = await renewMeshCredentials({
            nodeId: this.config.id,
            dataDir: this.config.dataDir,
            signer: credentials.signer,
            token: this.config.token,
            peerAddresses: Object.values(this.config.peers),
            clock,
          });
          this.mesh.reloadTls(material);
        },
      },
    });
  }

  /**
   * SIGHUP: re-reads the mesh certificate from the data dir and the encryption configuration;
   * what fails to load is logged and the old one stays in force.
   */
  reload(): void {
    if (this.config.meshTls !== undefined) {
      try {
        this.mesh.reloadTls(readMeshCredentials(this.config.dataDir));
      } catch (err) {
        this.logger.error({ err: (err as Error).message }, "mesh certificate reload failed");
      }
    }
    const encryption = this.config.api?.encryptionConfigFile;
    if (encryption !== undefined) {
      try {
        applyEncryptionConfig(encryption, this.config.dataDir);
        this.logger.info({ file: encryption }, "encryption configuration reloaded");
      } catch (err) {
        this.logger.error(
          { err: (err as Error).message },
          "encryption configuration reload failed",
        );
      }
    }
  }

  stop(): Promise<void> {
    if (this.stopping === null) {
      this.stopping = (async () => {
        this.introspection.stop();
        await this.leaveKubernetesEndpoints();
        this.dns?.stop();
        this.ui?.stop();
        // Bounded: when the whole cluster stops at once, releasing leases may find no quorum.
        if (this.workloads) {
          await Promise.race([this.workloads.stop(), sleep(this.system.clock, WORKLOADS_STOP_MS)]);
        }
        await this.apiServer?.stop();
        this.auditLog?.close();
        this.compactor?.stop();
        await this.server?.stop((ms) => sleep(this.system.clock, ms));
        this.system.stop();
        await this.mesh.stop();
        this.logger.info("node stopped");
      })();
    }
    return this.stopping;
  }

  private async ping(peer: string): Promise<number> {
    const startMs = this.system.clock.nowMs();
    await this.system.ask(
      this.system.address("peer-monitor"),
      `${peer}/node`,
      "system.ping",
      null,
      PING_TIMEOUT_MS,
    );
    return this.system.clock.nowMs() - startMs;
  }
}
