/**
 * DefaultBinder (kube-scheduler `plugins/defaultbinder`): binds the pod by posting a Binding to
 * `pods/binding`, through the framework handle (the scheduler's API port). A profile may put
 * another Bind plugin before it; the first that does not skip binds the pod.
 */
import type { BindPlugin, FrameworkHandle } from "../framework.ts";

export function defaultBinder(handle: FrameworkHandle): BindPlugin {
  return {
    name: "DefaultBinder",
    async bind(pod, nodeName) {
      await handle.bindPod(pod, nodeName);
      return "bound";
    },
  };
}
