/**
 * The cloud controller manager's controllers and its Lease (cloud-controller-manager's
 * `--controllers`): the service, cloud node, cloud node lifecycle and route controllers, each
 * only if the provider offers what it needs (a provider without Routes runs no route
 * controller). It is leader-elected on its own Lease, `kube-system/cloud-controller-manager`,
 * independent of the kube controller manager's.
 */
import { KUBE_SYSTEM_NAMESPACE } from "../api/well-known.ts";
import type { LeaderElectionTimings } from "../client/leader-election.ts";
import type { CloudContext, CloudControllerFactory } from "./cloud-controller.ts";
import { cloudNodeController } from "./cloud-node-controller.ts";
import { cloudNodeLifecycleController } from "./cloud-node-lifecycle.ts";
import { routeController } from "./route-controller.ts";
import { serviceController } from "./service-controller.ts";

export const CLOUD_CONTROLLER_MANAGER_ACTOR = "cloud-controller-manager";
export const CLOUD_CONTROLLER_MANAGER_LEASE_NAMESPACE = KUBE_SYSTEM_NAMESPACE;
export const CLOUD_CONTROLLER_MANAGER_LEASE_NAME = "cloud-controller-manager";
export const DEFAULT_CLUSTER_NAME = "kubernetes";

/**
 * The CCM's election when no --leader-elect-* flag is given: slower than the kube controller
 * manager's 800 ms lease, on purpose. Its failover is invisible to traffic (the load balancers
 * are served by the cloud's data plane, not by the leader), while a leader that flaps under load
 * re-lists its informers each time and leaves new Services pending: on a loaded 2-core host the
 * 700 ms renew deadline was missed every second or so. Still 20× faster than Kubernetes' 15 s.
 */
export const CLOUD_CONTROLLER_MANAGER_LEADER_ELECTION: LeaderElectionTimings = {
  leaseDurationMs: 4_000,
  renewDeadlineMs: 3_000,
  renewIntervalMs: 500,
  retryPeriodMs: 200,
};

export function cloudControllers(cloud: CloudContext): CloudControllerFactory[] {
  const { provider } = cloud;
  const factories: CloudControllerFactory[] = [];
  if (provider.loadBalancer() !== null) factories.push((rt) => serviceController(rt, cloud));
  if (provider.instancesV2() !== null)
    factories.push(
      (rt) => cloudNodeController(rt, cloud),
      (rt) => cloudNodeLifecycleController(rt, cloud),
    );
  if (provider.routes() !== null) factories.push((rt) => routeController(rt, cloud));
  return factories;
}
