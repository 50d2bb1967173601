/**
 * The route controller (cloud-provider's controllers/route): one route per node in the cloud's
 * route table, sending the node's pod CIDR (`spec.podCIDR`) to it; routes of nodes that are gone,
 * or whose CIDR changed, are deleted. Keyed by node; a deleted node's key cleans up its routes.
 */
import { asObject, asString } from "../api/json.ts";
import {
  type CloudContext,
  type CloudControllerDefinition,
  type CloudControllerRuntime,
  NODES,
} from "./cloud-controller.ts";

export const ROUTE_CONTROLLER = "route";

export function routeController(
  runtime: CloudControllerRuntime,
  cloud: CloudContext,
): CloudControllerDefinition {
  const { cache } = runtime;
  const routes = cloud.provider.routes();
  return {
    name: ROUTE_CONTROLLER,
    primary: NODES,
    primaryKind: "Node",
    async reconcile(key) {
      if (routes === null) return undefined;
      const node = cache.get(NODES, key);
      const cidr = node === undefined ? "" : asString(asObject(node.spec).podCIDR);
      const existing = (await routes.listRoutes(cloud.clusterName)).filter(
        (r) => r.targetNode === key.name,
      );
      for (const r of existing)
        if (r.destinationCIDR !== cidr) await routes.deleteRoute(cloud.clusterName, r);
      if (cidr !== "" && !existing.some((r) => r.destinationCIDR === cidr)) {
        const uid = asString(asObject(node?.metadata).uid);
        await routes.createRoute(cloud.clusterName, uid || key.name, {
          name: "",
          targetNode: key.name,
          destinationCIDR: cidr,
        });
      }
      return undefined;
    },
  };
}
