/**
 * The cloud controller manager's controllers and its Lease (cloud-controller-manager's
 * `--controllers`): the service, cloud node, cloud node lifecycle and route controllers, each
 * only if the provider offers what it needs (a provider without Routes runs no route
 * controller). It is leader-elected on its own Lease, `kube-system/cloud-controller-manager`,
 * independent of the kube controller manager's.
 */
import { KUBE_SYSTEM_NAMESPACE } from "../api/well-known.ts";
import type { CloudContext, CloudControllerFactory } from "./cloud-controller.ts";
import { cloudNodeController } from "./cloud-node-controller.ts";
import { cloudNodeLifecycleController } from "./cloud-node-lifecycle.ts";
import { routeController } from "./route-controller.ts";
import { serviceController } from "./service-controller.ts";

export const CLOUD_CONTROLLER_MANAGER_ACTOR = "cloud-controller-manager";
export const CLOUD_CONTROLLER_MANAGER_LEASE_NAMESPACE = KUBE_SYSTEM_NAMESPACE;
export const CLOUD_CONTROLLER_MANAGER_LEASE_NAME = "cloud-controller-manager";
export const DEFAULT_CLUSTER_NAME = "kubernetes";

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
