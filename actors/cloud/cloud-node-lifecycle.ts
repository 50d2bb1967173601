/**
 * The cloud node lifecycle controller (cloud-provider's controllers/nodelifecycle): for every
 * Node that is not Ready, asks the cloud whether its instance still exists — a Node whose
 * instance is gone is deleted (its pods are then garbage collected) — and whether it is shut
 * down — such a Node gets the taint `node.cloudprovider.kubernetes.io/shutdown:NoSchedule`,
 * removed again once the node is Ready. A Ready node is not asked about (the kubelet vouches
 * for it). Each Node is looked at again every `nodeMonitorPeriodMs` (Kubernetes: 5 s).
 *
 * Only Nodes with a `spec.providerID` are the cloud's: a Node that never went through the cloud
 * node controller (hollow nodes, a kubelet without `--cloud-provider external`) has no instance
 * to ask about, and deleting it for that would be wrong.
 */
import { asArray, asObject, asString, type JsonObject } from "../api/json.ts";
import { rfc3339 } from "../api/meta-time.ts";
import { isNotFound } from "../client/errors.ts";
import {
  type CloudContext,
  type CloudControllerDefinition,
  type CloudControllerRuntime,
  NODES,
} from "./cloud-controller.ts";
import { CloudEventRecorder } from "./cloud-events.ts";
import { hasTaint, withoutTaint } from "./cloud-node-controller.ts";

export const SHUTDOWN_TAINT_KEY = "node.cloudprovider.kubernetes.io/shutdown";
export const CLOUD_NODE_LIFECYCLE_CONTROLLER = "cloud-node-lifecycle";
/** How often each Node is checked. 2 s: bosun's node grace period is 4 s, not Kubernetes' 40. */
export const DEFAULT_NODE_MONITOR_PERIOD_MS = 2_000;

export function isNodeReady(node: JsonObject): boolean {
  return asArray(asObject(node.status).conditions).some((c) => {
    const o = asObject(c);
    return o.type === "Ready" && o.status === "True";
  });
}

export function cloudNodeLifecycleController(
  runtime: CloudControllerRuntime,
  cloud: CloudContext,
  nodeMonitorPeriodMs = DEFAULT_NODE_MONITOR_PERIOD_MS,
): CloudControllerDefinition {
  const { api, cache, clock } = runtime;
  const instances = cloud.provider.instancesV2();
  const events = new CloudEventRecorder(CLOUD_NODE_LIFECYCLE_CONTROLLER, clock, cloud.postEvent);
  const again = { requeueAfterMs: nodeMonitorPeriodMs };

  async function setShutdownTaint(node: JsonObject, present: boolean): Promise<void> {
    if (hasTaint(node, SHUTDOWN_TAINT_KEY) === present) return;
    const spec = asObject(node.spec);
    const next = present
      ? {
          ...node,
          spec: {
            ...spec,
            taints: [
              ...asArray(spec.taints),
              { key: SHUTDOWN_TAINT_KEY, effect: "NoSchedule", timeAdded: rfc3339(clock.wallMs()) },
            ],
          },
        }
      : withoutTaint(node, SHUTDOWN_TAINT_KEY);
    await api.update(NODES, next);
  }

  return {
    name: CLOUD_NODE_LIFECYCLE_CONTROLLER,
    primary: NODES,
    primaryKind: "Node",
    async reconcile(key) {
      const node = cache.get(NODES, key);
      if (node === undefined || instances === null) return undefined;
      if (asString(asObject(node.spec).providerID) === "") return undefined;
      try {
        if (isNodeReady(node)) {
          await setShutdownTaint(node, false);
          return again;
        }
        if (!(await instances.instanceExists(node))) {
          events.record(
            node,
            "Node",
            "Normal",
            "DeletingNode",
            `Deleting node ${key.name} because it does not exist in the cloud provider`,
          );
          await api.delete(NODES, key.name);
          return undefined;
        }
        await setShutdownTaint(node, await instances.instanceShutdown(node));
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
      return again;
    },
  };
}
