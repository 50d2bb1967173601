/**
 * The cloud node controller (cloud-provider's controllers/node): a kubelet started with
 * `--cloud-provider external` registers its Node with the taint
 * `node.cloudprovider.kubernetes.io/uninitialized:NoSchedule`, so nothing is scheduled there
 * before the cloud has said what the node is. This controller asks the provider's InstancesV2
 * for the instance's metadata, sets `spec.providerID`, the instance-type, zone and region labels
 * and the addresses, and removes the taint. A failure (the instance not found yet) is retried
 * with backoff; the node stays tainted meanwhile.
 */
import { asArray, asObject, asString, type JsonObject } from "../api/json.ts";
import { INSTANCE_TYPE_LABEL, REGION_LABEL, ZONE_LABEL } from "../api/well-known.ts";
import { isNotFound } from "../client/errors.ts";
import {
  type CloudContext,
  type CloudControllerDefinition,
  type CloudControllerRuntime,
  NODES,
} from "./cloud-controller.ts";
import type { InstanceMetadata } from "./cloud-provider.ts";

export const UNINITIALIZED_TAINT_KEY = "node.cloudprovider.kubernetes.io/uninitialized";
export const UNINITIALIZED_TAINT = {
  key: UNINITIALIZED_TAINT_KEY,
  value: "true",
  effect: "NoSchedule",
};
export const CLOUD_NODE_CONTROLLER = "cloud-node";

export function hasTaint(node: JsonObject, key: string): boolean {
  return asArray(asObject(node.spec).taints).some((t) => asObject(t).key === key);
}

export function withoutTaint(node: JsonObject, key: string): JsonObject {
  const spec = asObject(node.spec);
  const taints = asArray(spec.taints).filter((t) => asObject(t).key !== key);
  const next: JsonObject = { ...spec, taints };
  if (taints.length === 0) delete next.taints;
  return { ...node, spec: next };
}

/** The Node as the cloud describes it: providerID, topology labels, no uninitialized taint. */
export function initializedNode(node: JsonObject, meta: InstanceMetadata): JsonObject {
  const metadata = asObject(node.metadata);
  const labels: JsonObject = {
    ...asObject(metadata.labels),
    [INSTANCE_TYPE_LABEL]: meta.instanceType,
    [ZONE_LABEL]: meta.zone,
    [REGION_LABEL]: meta.region,
  };
  const spec = asObject(node.spec);
  const withMeta: JsonObject = {
    ...node,
    metadata: { ...metadata, labels },
    // providerID is immutable once set: keep what is there
    spec: { ...spec, providerID: asString(spec.providerID) || meta.providerID },
  };
  return withoutTaint(withMeta, UNINITIALIZED_TAINT_KEY);
}

export function cloudNodeController(
  runtime: CloudControllerRuntime,
  cloud: CloudContext,
): CloudControllerDefinition {
  const { api, cache } = runtime;
  const instances = cloud.provider.instancesV2();
  return {
    name: CLOUD_NODE_CONTROLLER,
    primary: NODES,
    primaryKind: "Node",
    primaryFilter: (node) => hasTaint(node, UNINITIALIZED_TAINT_KEY),
    async reconcile(key) {
      const node = cache.get(NODES, key);
      if (node === undefined || instances === null || !hasTaint(node, UNINITIALIZED_TAINT_KEY))
        return undefined;
      const meta = await instances.instanceMetadata(node);
      try {
        // addresses first (status), then labels, providerID and the taint in one update: the
        // node is schedulable only once all of it is there
        const fresh = await api.get(NODES, key.name);
        const status = {
          ...asObject(fresh.status),
          addresses: meta.nodeAddresses.map((a) => ({ ...a })),
        };
        const withStatus = await api.update(NODES, { ...fresh, status }, { subresource: "status" });
        await api.update(NODES, initializedNode(withStatus, meta));
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
      return undefined;
    },
  };
}
