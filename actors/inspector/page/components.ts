/**
 * Which component an actor belongs to, by its name (the cluster view groups by it): the names
 * are the ones cmd/node and the components give their actors, mapped to Kubernetes' parts.
 */
const RULES: [RegExp, string][] = [
  [/^link:/, "transport"],
  [/^(node|echo|peer-monitor|supervisor:.*)$/, "system"],
  [/^ui-feed/, "inspector"],
  [/^(raft|store|compactor|store-client-\d+)$/, "store (raft)"],
  [/^(apiserver|watch-cache|apiserver-logs)$/, "apiserver"],
  [/^api-client-\d+$/, "client"],
  [/^controller-manager(\/|$)/, "controller-manager"],
  [/scheduler/, "scheduler"],
  [/^kubelet/, "kubelet"],
  [/^proxy|kube-proxy/, "proxy"],
  [/^dns|coredns/, "dns"],
  [/^cloud/, "cloud"],
];

/** `n1/kubelet/pod:default/web-0` → `kubelet`. */
export function componentOf(address: string): string {
  const name = address.slice(address.indexOf("/") + 1);
  for (const [pattern, component] of RULES) if (pattern.test(name)) return component;
  const cut = name.search(/[:/.]/);
  return cut > 0 ? name.slice(0, cut) : name;
}

/** The part of the address after the node: `kubelet/pod:default/web-0`. */
export function nameOf(address: string): string {
  return address.slice(address.indexOf("/") + 1);
}
