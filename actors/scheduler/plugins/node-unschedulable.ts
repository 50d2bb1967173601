/**
 * NodeUnschedulable (kube-scheduler `plugins/nodeunschedulable`): a cordoned node
 * (`spec.unschedulable: true`) takes no new pods, unless the pod tolerates the
 * `node.kubernetes.io/unschedulable:NoSchedule` taint that cordoning stands for.
 */

import { asObject } from "../../api/json.ts";
import { type Taint, tolerates, tolerationsOf } from "../../api/taints.ts";
import { UNSCHEDULABLE_TAINT_KEY } from "../../api/well-known.ts";
import { FITS, type FilterPlugin } from "../framework.ts";

export const ERR_NODE_UNSCHEDULABLE = "node(s) were unschedulable";

export const UNSCHEDULABLE_TAINT: Readonly<Taint> = Object.freeze({
  key: UNSCHEDULABLE_TAINT_KEY,
  value: "",
  effect: "NoSchedule",
});

export const nodeUnschedulablePlugin: FilterPlugin = {
  name: "NodeUnschedulable",
  prepareFilter(pod) {
    if (tolerates(tolerationsOf(pod.pod), UNSCHEDULABLE_TAINT)) return null;
    const rejected = [ERR_NODE_UNSCHEDULABLE];
    return (node) => (asObject(node.node.spec).unschedulable === true ? rejected : FITS);
  },
};
