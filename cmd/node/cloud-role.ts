import { createHash } from "node:crypto";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Logger } from "pino";
import { asString, isJsonObject, type JsonObject } from "../../actors/api/json.ts";
import type { ApiClient } from "../../actors/client/api-client.ts";
import { EventSink } from "../../actors/client/event-sink.ts";
import type { LeaderElectionTimings } from "../../actors/client/leader-election.ts";
import type { CloudContext } from "../../actors/cloud/cloud-controller.ts";
import {
  CLOUD_CONTROLLER_MANAGER_ACTOR,
  CLOUD_CONTROLLER_MANAGER_LEASE_NAME,
  CLOUD_CONTROLLER_MANAGER_LEASE_NAMESPACE,
  cloudControllers,
  DEFAULT_CLUSTER_NAME,
} from "../../actors/cloud/cloud-controllers.ts";
import type { CloudProvider } from "../../actors/cloud/cloud-provider.ts";
import { procStat } from "../../actors/cloud/local/instance-process.ts";
import {
  type DataPlaneHandle,
  startLoadBalancerDataPlane,
} from "../../actors/cloud/local/load-balancer-data-plane.ts";
import type {
  ForwarderFactory,
  PortForwarder,
} from "../../actors/cloud/local/load-balancer-listeners.ts";
import type { LocalCloudState } from "../../actors/cloud/local/local-cloud-state.ts";
import { LocalCloudProvider } from "../../actors/cloud/local/local-provider.ts";
import { builtInCloudProviders } from "../../actors/cloud/providers.ts";
import {
  type ControllerManagerHandle,
  startControllerManager,
} from "../../actors/controllers/controller-manager.ts";
import { HostLock } from "../../actors/proxy/host-lock.ts";
import { DEFAULT_PROXY_LIMITS } from "../../actors/proxy/limits.ts";
import { emptyPortStats } from "../../actors/proxy/port-stats.ts";
import { RoundRobin } from "../../actors/proxy/round-robin.ts";
import { TcpForwarder } from "../../actors/proxy/tcp-forwarder.ts";
import { UdpForwarder } from "../../actors/proxy/udp-forwarder.ts";
import type { ActorSystem } from "../../actors/system/actor-system.ts";

/**
 * `--cloud-provider external` on a node (DESIGN §7): the cloud controller manager on a server
 * (its own Lease, so one runs per cluster), and, for the `local` provider, what makes this node
 * process part of the simulated cloud: its instance record, and a load balancer data plane that
 * serves the cloud's load balancers when this process holds the host's lock. The cloud config
 * (`--cloud-config`, JSON) names the provider (`"provider": "local"`) and its settings; the
 * local cloud keeps its state in the config file's directory unless `stateDir` says otherwise.
 */
export interface CloudRoleConfig {
  nodeId: string;
  host: string;
  configFile: string;
  controlPlane: boolean;
  leaderElection: Partial<LeaderElectionTimings>;
}

export interface CloudConfigFile {
  provider: string;
  clusterName: string;
  settings: JsonObject;
}

/**
 * A missing file is the local cloud with its defaults in the file's directory: a cluster
 * planned without `bosun up` (the chaos harness) gets a cloud all the same.
 */
export function readCloudConfig(file: string): CloudConfigFile {
  const parsed: unknown = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
  if (!isJsonObject(parsed)) throw new Error(`${file}: the cloud config must be a JSON object`);
  return {
    provider: asString(parsed.provider) || "local",
    clusterName: asString(parsed.clusterName) || DEFAULT_CLUSTER_NAME,
    settings: {
      ...parsed,
      stateDir: resolve(dirname(file), asString(parsed.stateDir) || "."),
    },
  };
}

/** The proxy's L4 forwarders behind the data plane's narrow interface. */
function proxyForwarders(system: ActorSystem, logger: Logger): ForwarderFactory {
  const limits = DEFAULT_PROXY_LIMITS;
  return (protocol, address, port): PortForwarder => {
    const balancer = new RoundRobin(null, limits.maxAffinityEntriesPerServicePort);
    const deps = { clock: system.clock, limits, logger, stats: emptyPortStats() };
    const forwarder =
      protocol === "UDP"
        ? new UdpForwarder(address, port, balancer, deps)
        : new TcpForwarder(address, port, balancer, deps);
    return {
      setEndpoints: (endpoints) => {
        balancer.setEndpoints([...endpoints]);
        forwarder.update(true);
      },
      isListening: () => forwarder.isListening(),
      close: () => forwarder.close(true),
    };
  };
}

function hostLockFor(stateDir: string): HostLock {
  const digest = createHash("sha256")
    .update("bosun local cloud load balancers\0")
    .update(realpathSync(stateDir))
    .digest("hex")
    .slice(0, 16);
  return new HostLock(`\0bosun-cloud-lbs-${digest}`);
}

/** The local cloud's LB data plane as a node runs it: the proxy's forwarders, the host lock. */
export function startLocalDataPlane(
  system: ActorSystem,
  state: LocalCloudState,
  logger: Logger,
): DataPlaneHandle {
  return startLoadBalancerDataPlane({
    system,
    state,
    forwarders: proxyForwarders(system, logger),
    lock: hostLockFor(state.dir),
    logger,
  });
}

export class CloudRole {
  private manager: ControllerManagerHandle | null = null;
  private dataPlane: DataPlaneHandle | null = null;
  private events: EventSink | null = null;
  readonly provider: CloudProvider;
  readonly clusterName: string;

  constructor(
    private readonly config: CloudRoleConfig,
    private readonly system: ActorSystem,
    private readonly logger: Logger,
  ) {
    const cloud = readCloudConfig(config.configFile);
    this.provider = builtInCloudProviders().build(cloud.provider, cloud.settings);
    this.clusterName = cloud.clusterName;
  }

  start(api: ApiClient, leaseApi: ApiClient): void {
    const { config, system, logger } = this;
    if (this.provider instanceof LocalCloudProvider) {
      const state = this.provider.state;
      // this process is the instance: its pid and start time tell the cloud whether it runs
      state.putInstance({
        id: config.nodeId,
        pid: process.pid,
        startTicks: procStat(process.pid)?.startTicks ?? null,
        address: config.host,
      });
      this.dataPlane = startLocalDataPlane(system, state, logger.child({ component: "cloud-lb" }));
    }
    if (!config.controlPlane) return;
    const events = new EventSink(
      (namespace, event) => api.create("events", event, { namespace }),
      (_, error) => logger.debug({ error: String(error) }, "cloud event not written"),
    );
    this.events = events;
    const cloud: CloudContext = {
      provider: this.provider,
      clusterName: this.clusterName,
      postEvent: (event) => events.post(event),
    };
    this.manager = startControllerManager({
      system,
      api,
      leaseApi,
      identity: config.nodeId,
      actorName: CLOUD_CONTROLLER_MANAGER_ACTOR,
      leaseNamespace: CLOUD_CONTROLLER_MANAGER_LEASE_NAMESPACE,
      leaseName: CLOUD_CONTROLLER_MANAGER_LEASE_NAME,
      leaderElection: config.leaderElection,
      // the cloud controllers have the controller contract's shape (actors/cloud/cloud-controller.ts)
      controllers: cloudControllers(cloud),
      logger: logger.child({ component: CLOUD_CONTROLLER_MANAGER_ACTOR }),
    });
  }

  async stop(): Promise<void> {
    this.dataPlane?.stop();
    this.events?.stop();
    await this.manager?.stop();
  }
}
