import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Command, Option } from "commander";
import { pino } from "pino";
import { DEFAULT_COMPACTION_INTERVAL_MS } from "../../actors/apiserver/compactor.ts";
import { DEFAULT_IN_FLIGHT_LIMITS } from "../../actors/apiserver/max-in-flight.ts";
import {
  checkLeaderElectionTimings,
  DEFAULT_LEADER_ELECTION_TIMINGS,
  type LeaderElectionTimings,
} from "../../actors/client/leader-election.ts";
import type { HpaOptions } from "../../actors/controllers/horizontal-pod-autoscaler.ts";
import { parseProxyMode } from "../../actors/proxy/proxy-mode.ts";
import { SystemClock } from "../../actors/system/clock.ts";
import { parseDurationMs } from "./duration-flag.ts";
import { obtainMeshCredentials } from "./mesh-credentials.ts";
import { parseListen, parsePeers } from "./peers.ts";
import { type AuditConfig, NodeProcess, type NodeRole } from "./process.ts";
import { DEFAULT_ELECTION_TICKS, DEFAULT_TICK_INTERVAL_MS } from "./server-role.ts";

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`${flag} must be a positive integer, got ${value}`);
  return n;
}

interface NodeOptions {
  id: string;
  snapshotEntries?: string;
  compactionInterval: string;
  nodeMonitorGracePeriod?: string;
  udpTimeout?: string;
  proxyMode?: string;
  clusterDomain: string;
  dnsTtl: string;
  dnsPort?: string;
  horizontalPodAutoscalerSyncPeriod?: string;
  horizontalPodAutoscalerDownscaleStabilization?: string;
  cloudProvider?: string;
  cloudConfig?: string;
  leaderElectLeaseDuration?: string;
  leaderElectRenewDeadline?: string;
  leaderElectRetryPeriod?: string;
  role: string;
  servers?: string;
  tickMs: string;
  electionTicks: string;
  listen: string;
  peers?: string;
  dataDir: string;
  token?: string;
  tokenFile?: string;
  faults: boolean;
  kubelet: boolean;
  workloads: boolean;
  logLevel: string;
  apiPort: string;
  apiTokenFile?: string;
  apiCert?: string;
  apiClientCa?: string;
  serviceAccountKeyFile?: string;
  authorizationMode: string;
  apiKey?: string;
  apiInsecure: boolean;
  auditPolicyFile?: string;
  auditLogPath?: string;
  auditLogMaxsize: string;
  auditLogMaxbackup: string;
  maxRequestsInflight: string;
  maxMutatingRequestsInflight: string;
  meshTls: boolean;
  encryptionProviderConfig?: string;
  meshCaCert?: string;
  meshCaKey?: string;
}

/** kube-apiserver's `--audit-*` flags; the log defaults to `audit.log` in the data dir. */
function auditFlags(options: NodeOptions): { audit?: AuditConfig } {
  if (!options.auditPolicyFile) return {};
  return {
    audit: {
      policyFile: options.auditPolicyFile,
      logPath: options.auditLogPath ?? join(options.dataDir, "audit.log"),
      maxSizeMb: nonNegativeInt(options.auditLogMaxsize, "--audit-log-maxsize"),
      maxBackups: nonNegativeInt(options.auditLogMaxbackup, "--audit-log-maxbackup"),
    },
  };
}

function nonNegativeInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`${flag} must be an integer >= 0, got ${value}`);
  return n;
}

function readToken(options: NodeOptions): string {
  const token = options.tokenFile
    ? readFileSync(options.tokenFile, "utf8").trim()
    : (options.token ?? "");
  if (token.length < 16) {
    throw new Error(
      "a join token of at least 16 characters is required (--token-file or BOSUN_TOKEN)",
    );
  }
  return token;
}

export function nodeCommand(): Command {
  return new Command("node")
    .description("run one cluster member in the foreground")
    .addOption(
      new Option("--id <id>", "node id, unique in the cluster")
        .env("BOSUN_NODE_ID")
        .makeOptionMandatory(),
    )
    .addOption(
      new Option("--role <role>", "server (Raft voter + store) or agent")
        .env("BOSUN_ROLE")
        .choices(["server", "agent"])
        .default("server"),
    )
    .addOption(
      new Option(
        "--servers <ids>",
        "bootstrap voters, comma-separated (default: this node and its peers)",
      ).env("BOSUN_SERVERS"),
    )
    .addOption(
      new Option(
        "--snapshot-entries <n>",
        "snapshot the store and compact the Raft log every N applied entries",
      ).env("BOSUN_SNAPSHOT_ENTRIES"),
    )
    .addOption(
      new Option(
        "--compaction-interval <duration|ms>",
        "compact the store's history this often, keeping at least one interval (0: never)",
      )
        .env("BOSUN_COMPACTION_INTERVAL")
        .default(`${DEFAULT_COMPACTION_INTERVAL_MS / 60_000}m`),
    )
    .addOption(
      new Option(
        "--node-monitor-grace-period <duration|ms>",
        "how long a node's Lease may stand still before the node is Unknown (default 4s; Kubernetes: 40s)",
      ).env("BOSUN_NODE_MONITOR_GRACE_PERIOD"),
    )
    .addOption(
      new Option(
        "--horizontal-pod-autoscaler-sync-period <duration|ms>",
        "how often the HPA controller looks at each HorizontalPodAutoscaler (default 15s, as Kubernetes)",
      ).env("BOSUN_HPA_SYNC_PERIOD"),
    )
    .addOption(
      new Option(
        "--horizontal-pod-autoscaler-downscale-stabilization <duration|ms>",
        "an HPA scales down only to the highest recommendation of this window (default 5m, as Kubernetes)",
      ).env("BOSUN_HPA_DOWNSCALE_STABILIZATION"),
    )
    .addOption(
      new Option(
        "--leader-elect-lease-duration <duration|ms>",
        "the controller manager's and scheduler's Lease duration (default 800ms; Kubernetes: 15s)",
      ).env("BOSUN_LEADER_ELECT_LEASE_DURATION"),
    )
    .addOption(
      new Option(
        "--leader-elect-renew-deadline <duration|ms>",
        "a leader that has not renewed for this long steps down (default 700ms; Kubernetes: 10s)",
      ).env("BOSUN_LEADER_ELECT_RENEW_DEADLINE"),
    )
    .addOption(
      new Option(
        "--leader-elect-retry-period <duration|ms>",
        "how often a leader renews and a candidate tries (default 200ms/50ms; Kubernetes: 2s)",
      ).env("BOSUN_LEADER_ELECT_RETRY_PERIOD"),
    )
    .addOption(
      new Option("--tick-ms <ms>", "Raft tick; heartbeats go out every tick")
        .env("BOSUN_TICK_MS")
        .default(String(DEFAULT_TICK_INTERVAL_MS)),
    )
    .addOption(
      new Option(
        "--election-ticks <n>",
        "ticks without a leader before an election (randomized up to 2x)",
      )
        .env("BOSUN_ELECTION_TICKS")
        .default(String(DEFAULT_ELECTION_TICKS)),
    )
    .addOption(
      new Option("--listen <host:port>", "address to serve the mesh and HTTP on")
        .env("BOSUN_LISTEN")
        .default("127.0.0.1:7100"),
    )
    .addOption(
      new Option("--peers <list>", "the other members: id=host:port,...").env("BOSUN_PEERS"),
    )
    .addOption(
      new Option("--data-dir <dir>", "where this node keeps its data")
        .env("BOSUN_DATA_DIR")
        .default(".bosun/data"),
    )
    .addOption(
      new Option(
        "--token <token>",
        "cluster join token (prefer --token-file: flags show in ps)",
      ).env("BOSUN_TOKEN"),
    )
    .addOption(
      new Option("--token-file <file>", "file holding the cluster join token").env(
        "BOSUN_TOKEN_FILE",
      ),
    )
    .addOption(
      new Option("--no-kubelet", "run no kubelet on this node (by default every node runs one)"),
    )
    .addOption(
      new Option("--no-workloads", "no kubelet, controller manager or scheduler on this node"),
    )
    .addOption(
      new Option(
        "--udp-timeout <duration>",
        "how long an idle UDP flow through the service proxy lives (kube-proxy's; default 250ms)",
      ).env("BOSUN_UDP_TIMEOUT"),
    )
    .addOption(
      new Option(
        "--proxy-mode <mode>",
        "the service proxy's data path: iptables, nftables or userspace (kube-proxy's; default: a kernel mode where it works, else userspace)",
      ).env("BOSUN_PROXY_MODE"),
    )
    .addOption(
      new Option("--cluster-domain <domain>", "the cluster DNS zone (kubelet's --cluster-domain)")
        .env("BOSUN_CLUSTER_DOMAIN")
        .default("cluster.local"),
    )
    .addOption(
      new Option("--dns-ttl <seconds>", "TTL of the cluster DNS server's answers")
        .env("BOSUN_DNS_TTL")
        .default("5"),
    )
    .addOption(
      new Option(
        "--dns-port <port>",
        "the cluster DNS server's port (default 53, or 10053 without the right to bind 53)",
      ).env("BOSUN_DNS_PORT"),
    )
    .addOption(
      new Option(
        "--cloud-provider <external>",
        "external: run the cloud controller manager (servers) and register the Node uninitialized until it has run",
      )
        .env("BOSUN_CLOUD_PROVIDER")
        .choices(["external", ""]),
    )
    .addOption(
      new Option(
        "--cloud-config <file>",
        'the cloud config (JSON: {"provider": "local", "clusterName": ..., the provider\'s settings})',
      ).env("BOSUN_CLOUD_CONFIG"),
    )
    .addOption(
      new Option("--faults", "accept fault rules and chaos commands")
        .env("BOSUN_FAULTS")
        .default(false),
    )
    .addOption(
      new Option("--api-port <port>", "Kubernetes API server port (on --listen's host)")
        .env("BOSUN_API_PORT")
        .default("6443"),
    )
    .addOption(
      new Option(
        "--api-token-file <file>",
        "bearer token the API server accepts; without it a server runs no API server",
      ).env("BOSUN_API_TOKEN_FILE"),
    )
    .addOption(
      new Option("--api-cert <file>", "API server certificate (PEM)").env("BOSUN_API_CERT"),
    )
    .addOption(new Option("--api-key <file>", "API server private key (PEM)").env("BOSUN_API_KEY"))
    .addOption(
      new Option(
        "--api-client-ca <file>",
        "CA whose client certificates authenticate API requests (CN user, O groups)",
      ).env("BOSUN_API_CLIENT_CA"),
    )
    .addOption(
      new Option(
        "--service-account-key-file <file>",
        "RSA private key (PEM) that signs and verifies ServiceAccount tokens",
      ).env("BOSUN_SERVICE_ACCOUNT_KEY_FILE"),
    )
    .addOption(
      new Option("--authorization-mode <mode>", "RBAC (Node,RBAC) or AlwaysAllow")
        .choices(["RBAC", "AlwaysAllow"])
        .env("BOSUN_AUTHORIZATION_MODE")
        .default("RBAC"),
    )
    .addOption(
      new Option("--api-insecure", "serve the API over plain HTTP (no TLS)")
        .env("BOSUN_API_INSECURE")
        .default(false),
    )
    .addOption(
      new Option(
        "--audit-policy-file <file>",
        "audit.k8s.io/v1 Policy: audit API requests (none without it)",
      ).env("BOSUN_AUDIT_POLICY_FILE"),
    )
    .addOption(
      new Option(
        "--audit-log-path <file>",
        "where audit events go, one JSON line each; - is stdout",
      ).env("BOSUN_AUDIT_LOG_PATH"),
    )
    .addOption(
      new Option("--audit-log-maxsize <MB>", "rotate the audit log at this size (0: 100 MB)")
        .env("BOSUN_AUDIT_LOG_MAXSIZE")
        .default("0"),
    )
    .addOption(
      new Option("--audit-log-maxbackup <n>", "rotated audit logs kept (0: all)")
        .env("BOSUN_AUDIT_LOG_MAXBACKUP")
        .default("0"),
    )
    .addOption(
      new Option(
        "--max-requests-inflight <n>",
        "read-only API requests served at once per priority level (system, workload)",
      )
        .env("BOSUN_MAX_REQUESTS_INFLIGHT")
        .default(String(DEFAULT_IN_FLIGHT_LIMITS.maxReadOnly)),
    )
    .addOption(
      new Option(
        "--max-mutating-requests-inflight <n>",
        "mutating API requests served at once per priority level",
      )
        .env("BOSUN_MAX_MUTATING_REQUESTS_INFLIGHT")
        .default(String(DEFAULT_IN_FLIGHT_LIMITS.maxMutating)),
    )
    .addOption(
      new Option(
        "--mesh-tls",
        "mutual TLS 1.3 on every mesh link, with a node certificate kept in <data-dir>/mesh/ (asked for with the join token when absent)",
      )
        .env("BOSUN_MESH_TLS")
        .default(false),
    )
    .addOption(
      new Option(
        "--mesh-ca-cert <file>",
        "the cluster CA (PEM): with --mesh-ca-key, this server signs its own and joining nodes' certificates",
      ).env("BOSUN_MESH_CA_CERT"),
    )
    .addOption(
      new Option("--mesh-ca-key <file>", "the cluster CA's private key (PEM)").env(
        "BOSUN_MESH_CA_KEY",
      ),
    )
    .addOption(
      new Option(
        "--encryption-provider-config <file>",
        "EncryptionConfiguration (apiserver.config.k8s.io/v1): Secrets encrypted at rest; SIGHUP reloads it",
      ).env("BOSUN_ENCRYPTION_PROVIDER_CONFIG"),
    )
    .addOption(
      new Option("--log-level <level>", "pino log level").env("BOSUN_LOG_LEVEL").default("info"),
    )
    .action(async (options: NodeOptions) => {
      const logger = pino({
        level: options.logLevel,
        base: { node: options.id, pid: process.pid },
      });
      const { host, port } = parseListen(options.listen);
      mkdirSync(options.dataDir, { recursive: true });
      const peers = parsePeers(options.peers, options.id);
      const servers = options.servers
        ? options.servers.split(",").map((s) => s.trim())
        : [options.id, ...Object.keys(peers)].sort();
      const token = readToken(options);
      const clock = new SystemClock();
      const meshTls = options.meshTls
        ? await obtainMeshCredentials({
            nodeId: options.id,
            flags: {
              dataDir: options.dataDir,
              ...(options.meshCaCert ? { caCertFile: options.meshCaCert } : {}),
              ...(options.meshCaKey ? { caKeyFile: options.meshCaKey } : {}),
            },
            token,
            peerAddresses: Object.values(peers),
            clock,
          })
        : undefined;
      const node = new NodeProcess(
        {
          id: options.id,
          role: options.role as NodeRole,
          servers,
          tickIntervalMs: positiveInt(options.tickMs, "--tick-ms"),
          electionTick: positiveInt(options.electionTicks, "--election-ticks"),
          ...(options.snapshotEntries
            ? { snapshotEntries: positiveInt(options.snapshotEntries, "--snapshot-entries") }
            : {}),
          compactionIntervalMs: parseDurationMs(
            options.compactionInterval,
            "--compaction-interval",
          ),
          ...(options.nodeMonitorGracePeriod
            ? {
                nodeMonitorGracePeriodMs: parseDurationMs(
                  options.nodeMonitorGracePeriod,
                  "--node-monitor-grace-period",
                ),
              }
            : {}),
          ...hpaFlags(options),
          ...leaderElectionFlags(options),
          ...(options.udpTimeout
            ? { udpIdleTimeoutMs: parseDurationMs(options.udpTimeout, "--udp-timeout") }
            : {}),
          proxyMode: parseProxyMode(options.proxyMode),
          clusterDomain: options.clusterDomain,
          dnsTtlSeconds: positiveInt(options.dnsTtl, "--dns-ttl"),
          ...(options.dnsPort ? { dnsPort: positiveInt(options.dnsPort, "--dns-port") } : {}),
          ...cloudFlags(options),
          host,
          port,
          peers,
          dataDir: options.dataDir,
          token,
          ...(meshTls ? { meshTls } : {}),
          faults: Boolean(options.faults),
          authorizationMode: options.authorizationMode === "AlwaysAllow" ? "AlwaysAllow" : "RBAC",
          ...(options.serviceAccountKeyFile
            ? { serviceAccountKeyPem: readFileSync(options.serviceAccountKeyFile, "utf8") }
            : {}),
          kubelet: options.kubelet && options.workloads,
          controlPlane: options.workloads,
          ...(options.apiTokenFile
            ? {
                api: {
                  port: Number(options.apiPort),
                  tokenFile: options.apiTokenFile,
                  ...(options.apiCert ? { certFile: options.apiCert } : {}),
                  ...(options.apiClientCa ? { clientCaFile: options.apiClientCa } : {}),
                  ...(options.apiKey ? { keyFile: options.apiKey } : {}),
                  insecure: Boolean(options.apiInsecure),
                  ...auditFlags(options),
                  inFlight: {
                    maxReadOnly: positiveInt(
                      options.maxRequestsInflight,
                      "--max-requests-inflight",
                    ),
                    maxMutating: positiveInt(
                      options.maxMutatingRequestsInflight,
                      "--max-mutating-requests-inflight",
                    ),
                  },
                  ...(options.encryptionProviderConfig
                    ? { encryptionConfigFile: options.encryptionProviderConfig }
                    : {}),
                },
              }
            : {}),
        },
        clock,
        logger,
      );
      const shutdown = (signal: string) => {
        logger.info({ signal }, "stopping");
        node.stop().then(
          () => process.exit(0),
          (error: Error) => {
            logger.error({ error: error.message }, "unclean stop");
            process.exit(1);
          },
        );
      };
      process.once("SIGTERM", () => shutdown("SIGTERM"));
      process.once("SIGINT", () => shutdown("SIGINT"));
      // a new mesh certificate or encryption configuration was written: no restart needed
      process.on("SIGHUP", () => node.reload());
      await node.start();
    });
}

/** kube-controller-manager's --horizontal-pod-autoscaler-* flags, checked. */
function hpaFlags(options: NodeOptions): { hpa?: Partial<HpaOptions> } {
  const hpa: Partial<HpaOptions> = {};
  if (options.horizontalPodAutoscalerSyncPeriod)
    hpa.syncPeriodMs = parseDurationMs(
      options.horizontalPodAutoscalerSyncPeriod,
      "--horizontal-pod-autoscaler-sync-period",
    );
  if (options.horizontalPodAutoscalerDownscaleStabilization)
    hpa.downscaleStabilizationMs = parseDurationMs(
      options.horizontalPodAutoscalerDownscaleStabilization,
      "--horizontal-pod-autoscaler-downscale-stabilization",
    );
  return Object.keys(hpa).length > 0 ? { hpa } : {};
}

/** --cloud-provider external needs --cloud-config; --cloud-config alone means nothing. */
function cloudFlags(options: NodeOptions): { cloudConfigFile?: string } {
  if (options.cloudProvider !== "external") {
    if (options.cloudConfig) throw new Error("--cloud-config needs --cloud-provider external");
    return {};
  }
  if (!options.cloudConfig) throw new Error("--cloud-provider external needs --cloud-config");
  return { cloudConfigFile: options.cloudConfig };
}

/** The --leader-elect-* flags (kube-scheduler's and kube-controller-manager's names), checked. */
function leaderElectionFlags(options: NodeOptions): {
  leaderElection?: Partial<LeaderElectionTimings>;
} {
  const timings: Partial<LeaderElectionTimings> = {};
  if (options.leaderElectLeaseDuration)
    timings.leaseDurationMs = parseDurationMs(
      options.leaderElectLeaseDuration,
      "--leader-elect-lease-duration",
    );
  if (options.leaderElectRenewDeadline)
    timings.renewDeadlineMs = parseDurationMs(
      options.leaderElectRenewDeadline,
      "--leader-elect-renew-deadline",
    );
  if (options.leaderElectRetryPeriod) {
    // client-go's RetryPeriod paces both the leader's renewals and a candidate's tries
    const retry = parseDurationMs(options.leaderElectRetryPeriod, "--leader-elect-retry-period");
    timings.renewIntervalMs = retry;
    timings.retryPeriodMs = retry;
  }
  if (Object.keys(timings).length === 0) return {};
  const full = { ...DEFAULT_LEADER_ELECTION_TIMINGS, ...timings };
  checkLeaderElectionTimings(full);
  return { leaderElection: timings };
}
