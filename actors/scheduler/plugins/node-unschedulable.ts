/**
 * NodeUnschedulable (kube-scheduler `plugins/nodeunschedulable`): a cordoned node
 * (`spec.unschedulable: true`) takes no new pods, unless the pod tolerates the
 * `node.kubernetes.io/unschedulable:NoSchedule` taint that cordoning stands for.
 */
import { asObject } from "../../api/json.ts";
import { FITS, type FilterPlugin } from "../framework.ts";
import { type Taint, tolerates, tolerationsOf } from "./taint-toleration.ts";

export const ERR_NODE_UNSCHEDULABLE = "node(s) were unschedulable";

export const UNSCHEDULABLE_TAINT: Readonly<Taint> = Object.freeze({
  key: "node.kubernetes.io/unschedulable",
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
