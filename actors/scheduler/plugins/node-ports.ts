/**
 * NodePorts (kube-scheduler `plugins/nodeports`): a pod that asks for host ports fits only a
 * node where no pod already holds the same protocol and port on an overlapping address
 * (`0.0.0.0`, the default, overlaps every address).
 */
import { FITS, type FilterPlugin } from "../framework.ts";

export const ERR_NODE_PORTS = "node(s) didn't have free ports for the requested pod ports";

export const nodePortsPlugin: FilterPlugin = {
  name: "NodePorts",
  prepareFilter(pod) {
    if (pod.hostPorts.length === 0) return null;
    const rejected = [ERR_NODE_PORTS];
    return (node) => (pod.hostPorts.some((p) => node.portConflicts(p)) ? rejected : FITS);
  },
};
