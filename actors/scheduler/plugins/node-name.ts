/**
 * NodeName (kube-scheduler `plugins/nodename`): a pod that names its node (`spec.nodeName`) fits
 * only that node. Such pods normally never reach a scheduler; the filter keeps the framework
 * honest when one does.
 */
import { asObject, asString } from "../../api/json.ts";
import { FITS, type FilterPlugin } from "../framework.ts";

export const ERR_NODE_NAME = "node(s) didn't match the requested node name";

export const nodeNamePlugin: FilterPlugin = {
  name: "NodeName",
  prepareFilter(pod) {
    const wanted = asString(asObject(pod.pod.spec).nodeName);
    if (wanted === "") return null;
    const rejected = [ERR_NODE_NAME];
    return (node) => (node.name === wanted ? FITS : rejected);
  },
};
