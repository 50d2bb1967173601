import type { Logger } from "pino";
import type { AnyActorRef } from "xstate";
import {
  CLOUD_CONTROLLER_MANAGER_USER,
  componentUser,
  KUBE_CONTROLLER_MANAGER_USER,
  KUBE_PROXY_USER,
  KUBE_SCHEDULER_USER,
  LOCAL_PATH_PROVISIONER_USER,
  nodeUser,
  type UserInfo,
} from "../../actors/api/user-info.ts";
import { DEFAULT_CLUSTER_DOMAIN, KUBE_DNS_SERVICE_IP } from "../../actors/api/well-known.ts";
import { ApiClient } from "../../actors/client/api-client.ts";
import {
  DEFAULT_LEADER_ELECTION_TIMINGS,
  type LeaderElectionTimings,
  leaderElectionMachine,
} from "../../actors/client/leader-election.ts";
import { CLOUD_CONTROLLER_MANAGER_LEADER_ELECTION } from "../../actors/cloud/cloud-controllers.ts";
import { UNINITIALIZED_TAINT } from "../../actors/cloud/cloud-node-controller.ts";
import {
  type ControllerManagerHandle,
  controllersWith,
  DEFAULT_CONTROLLERS,
  startControllerManager,
} from "../../actors/controllers/controller-manager.ts";
import type { HpaOptions } from "../../actors/controllers/horizontal-pod-autoscaler.ts";
import { rootCaPublisher } from "../../actors/controllers/root-ca-publisher.ts";
import { type KubeletHandle, startKubelet } from "../../actors/kubelet/kubelet.ts";
import {
  type LocalPathProvisionerHandle,
  startLocalPathProvisioner,
} from "../../actors/kubelet/local-path-provisioner.ts";
import { PodIpAllocator } from "../../actors/kubelet/pod-ip-allocator.ts";
import type { ServicePortReport } from "../../actors/proxy/proxier.ts";
import { type ProxyHandle, startProxy } from "../../actors/proxy/proxy.ts";
import type { ProxyMode } from "../../actors/proxy/proxy-mode.ts";
import { type SchedulerHandle, startScheduler } from "../../actors/scheduler/scheduler.ts";
import type { ActorSystem } from "../../actors/system/actor-system.ts";
import { kubeletRootDir } from "../pod-processes.ts";
import { CloudRole } from "./cloud-role.ts";

/**
 * The Kubernetes side of a node (DESIGN §2, §7): on a server, the controller manager and the
 * scheduler, each active on one server at a time by Lease election; on every node (servers too,
 * like k3s) a kubelet that registers the Node and runs the pods bound to it.
 */
export interface WorkloadsConfig {
  nodeId: string;
  host: string;
  dataDir: string;
  /** Run the controller manager and the scheduler (servers). */
  controlPlane: boolean;
  kubelet: boolean;
  /** Addresses pods must never get (every member's listen address). */
  reservedAddresses: string[];
  servers: () => string[];
  /** kube-controller-manager's --node-monitor-grace-period (default 4 s). */
  nodeMonitorGracePeriodMs?: number;
  /** kube-controller-manager's --horizontal-pod-autoscaler-* timings. */
  hpa?: Partial<HpaOptions>;
  /** The controller manager's and scheduler's election timings (default: bosun's fast ones). */
  leaderElection?: Partial<LeaderElectionTimings>;
  /** Names the cluster for the proxies' host lock (see actors/proxy/host-lock.ts). */
  clusterIdentity: string;
  /** The cluster CA (PEM) the controller manager publishes as `kube-root-ca.crt`. */
  rootCaPem?: string;
  /** --udp-timeout of the service proxy. */
  udpIdleTimeoutMs?: number;
  /** --proxy-mode of the service proxy. */
  proxyMode?: ProxyMode | "auto";
  /** --cluster-domain: the search path of ClusterFirst pods' resolv.conf. */
  clusterDomain?: string;
  /**
   * --cloud-provider external with this --cloud-config: the cloud controller manager runs (on
   * servers) and the kubelet registers its Node with the uninitialized taint.
   */
  cloudConfigFile?: string;
}

export const SCHEDULER_ELECTION_ACTOR = "scheduler-election";

/**
 * Each node hands out pod IPs from its own /24 in 127.200.0.0–127.249.255.255, keyed by its own
 * loopback address (third and fourth octets), so the nodes of one cluster — and, nearly always,
 * of two clusters on one machine — never hand out the same address.
 */
export function podCidrFor(host: string): string {
  const [, , third = 0, fourth = 0] = host.split(".").map(Number);
  return `127.${200 + (fourth % 50)}.${third % 256}.0/24`;
}

/**
 * Per attempt of a Lease read or write, with the default renew deadline of 700 ms (a longer
 * deadline gets half of it per attempt). An attempt to a server
 * whose link is down fails at once (ServerRounds), so the next goes elsewhere without waiting;
 * a live server gets nearly the whole deadline, because under load a write's latency is the
 * cluster's queueing and a shorter wait only abandons writes that would have landed (250 ms
 * made a busy scheduler lose its Lease dozens of times a minute at 1,000 nodes).
 */
const LEASE_REQUEST_TIMEOUT_MS = 600;

export function leaseRequestTimeoutMs(timings: Partial<LeaderElectionTimings> | undefined): number {
  const deadline = timings?.renewDeadlineMs ?? DEFAULT_LEADER_ELECTION_TIMINGS.renewDeadlineMs;
  return Math.max(LEASE_REQUEST_TIMEOUT_MS, Math.floor(deadline / 2));
}
export const LEASE_REQUEST_ATTEMPTS = 2;

export class WorkloadsRole {
  private scheduler: SchedulerHandle | null = null;
  private election: AnyActorRef | null = null;
  private controllers: ControllerManagerHandle | null = null;
  private kubelet: KubeletHandle | null = null;
  private proxy: ProxyHandle | null = null;
  private localPath: LocalPathProvisionerHandle | null = null;
  private cloud: CloudRole | null = null;
  private stopped = false;

  constructor(
    private readonly config: WorkloadsConfig,
    private readonly system: ActorSystem,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const { config, system, logger } = this;
    const clock = system.clock;
    // every component speaks as its own identity (auth/mesh-identity.ts in the API server)
    const apiAs = (user: UserInfo) => new ApiClient({ system, servers: config.servers, user });
    // Lease writes fail fast, so a slow attempt is retried within the renew deadline instead
    // of using it all up (a timed-out write that applied anyway shows as our own renewal)
    const leaseApiAs = (user: UserInfo) =>
      new ApiClient({
        system,
        servers: config.servers,
        requestTimeoutMs: leaseRequestTimeoutMs(config.leaderElection),
        maxAttempts: LEASE_REQUEST_ATTEMPTS,
        user,
      });
    const controllerManager = componentUser(KUBE_CONTROLLER_MANAGER_USER);
    const scheduler = componentUser(KUBE_SCHEDULER_USER);
    if (config.cloudConfigFile !== undefined) {
      // the CCM's own election timings (see CLOUD_CONTROLLER_MANAGER_LEADER_ELECTION) unless
      // --leader-elect-* says otherwise, and a Lease client whose timeouts fit them
      const timings = config.leaderElection ?? CLOUD_CONTROLLER_MANAGER_LEADER_ELECTION;
      this.cloud = new CloudRole(
        {
          nodeId: config.nodeId,
          host: config.host,
          configFile: config.cloudConfigFile,
          controlPlane: config.controlPlane,
          leaderElection: timings,
        },
        system,
        logger,
      );
      const cloudControllerManager = componentUser(CLOUD_CONTROLLER_MANAGER_USER);
      this.cloud.start(
        apiAs(cloudControllerManager),
        new ApiClient({
          system,
          servers: config.servers,
          requestTimeoutMs: leaseRequestTimeoutMs(timings),
          maxAttempts: LEASE_REQUEST_ATTEMPTS,
          user: cloudControllerManager,
        }),
      );
    }
    if (config.controlPlane) {
      this.controllers = startControllerManager({
        system,
        api: apiAs(controllerManager),
        leaseApi: leaseApiAs(controllerManager),
        ...(config.leaderElection ? { leaderElection: config.leaderElection } : {}),
        controllers: [
          ...(config.nodeMonitorGracePeriodMs !== undefined || config.hpa !== undefined
            ? controllersWith({
                ...(config.nodeMonitorGracePeriodMs !== undefined
                  ? { nodeMonitorGracePeriodMs: config.nodeMonitorGracePeriodMs }
                  : {}),
                ...(config.hpa ? { hpa: config.hpa } : {}),
              })
            : DEFAULT_CONTROLLERS),
          ...(config.rootCaPem ? [rootCaPublisher(config.rootCaPem)] : []),
        ],
        identity: config.nodeId,
        logger: logger.child({ component: "controller-manager" }),
      });
      this.election = system.spawn(SCHEDULER_ELECTION_ACTOR, leaderElectionMachine, {
        supervise: false,
        input: {
          ...config.leaderElection,
          api: leaseApiAs(scheduler),
          clock,
          namespace: "kube-system",
          leaseName: "kube-scheduler",
          identity: config.nodeId,
          onStartedLeading: () => {
            if (this.stopped) return;
            // leadership changes are logged so that a bench or an operator can count them
            logger.info({ component: "scheduler" }, "scheduler started leading");
            const schedulerApi = apiAs(scheduler);
            this.scheduler = startScheduler({
              system,
              api: schedulerApi,
              clock,
              logger: logger.child({ component: "scheduler" }),
            });
          },
          onStoppedLeading: () => {
            // why: the renew deadline passed (lastError says what failed), or another holder
            const ctx = this.election?.getSnapshot().context as
              | {
                  lastError: string | null;
                  observed: { holder: string } | null;
                  renewedAtMs: number;
                }
              | undefined;
            logger.info(
              {
                component: "scheduler",
                lastError: ctx?.lastError ?? null,
                holder: ctx?.observed?.holder ?? null,
                sinceRenewalMs: ctx ? Math.round(clock.nowMs() - ctx.renewedAtMs) : null,
              },
              "scheduler stopped leading",
            );
            this.scheduler?.stop();
            this.scheduler = null;
          },
        },
      });
    }
    if (config.kubelet) {
      this.kubelet = await startKubelet({
        system,
        api: apiAs(nodeUser(config.nodeId)),
        clock,
        logger: logger.child({ component: "kubelet" }),
        nodeName: config.nodeId,
        rootDir: kubeletRootDir(config.dataDir),
        hostIP: config.host,
        podCIDR: podCidrFor(config.host),
        // the cloud node controller says what this node is before anything is scheduled here
        ...(this.cloud !== null ? { taints: [{ ...UNINITIALIZED_TAINT }] } : {}),
        // ClusterFirst pods resolve through the kube-dns Service (the kubelet's --cluster-dns)
        dns: {
          nameserver: KUBE_DNS_SERVICE_IP,
          domain: config.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN,
        },
        podIpAllocator: new PodIpAllocator({
          cidr: podCidrFor(config.host),
          reserved: config.reservedAddresses,
        }),
      });
      // kube-proxy runs wherever a kubelet does
      this.proxy = startProxy({
        system,
        source: apiAs(componentUser(KUBE_PROXY_USER)),
        logger: logger.child({ component: "proxy" }),
        nodeName: config.nodeId,
        nodeAddress: config.host,
        clusterIdentity: config.clusterIdentity,
        ...(config.proxyMode !== undefined ? { mode: config.proxyMode } : {}),
        ...(config.udpIdleTimeoutMs !== undefined
          ? { limits: { udpIdleTimeoutMs: config.udpIdleTimeoutMs } }
          : {}),
      });
      // local volumes for the claims scheduled here (StorageClass provisioner bosun.dev/local-path)
      this.localPath = startLocalPathProvisioner({
        system,
        api: apiAs(componentUser(LOCAL_PATH_PROVISIONER_USER)),
        clock,
        logger,
        nodeName: config.nodeId,
        rootDir: kubeletRootDir(config.dataDir),
      });
    }
  }

  /** The service proxy's ports and counters (for /metrics), or null without a proxy. */
  proxyReport(): ServicePortReport[] | null {
    return this.proxy?.report() ?? null;
  }

  /** Graceful: the kubelet stops its pods' processes, the leases are released for a successor. */
  async stop(): Promise<void> {
    this.stopped = true;
    // first: a standby on this host takes the cluster-IP listeners over while we wind down
    this.proxy?.stop();
    this.localPath?.stop();
    await this.kubelet?.stop();
    this.scheduler?.stop();
    this.election?.send({ type: "election.stop" });
    await this.controllers?.stop();
    await this.cloud?.stop();
  }
}
