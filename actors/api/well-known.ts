/**
 * Names every component agrees on (k8s.io/api's well-known labels, taints and namespaces), in
 * one place so that no component imports another to learn them.
 */

// Namespaces that kube-apiserver creates and keeps.
export const DEFAULT_NAMESPACE = "default";
export const KUBE_SYSTEM_NAMESPACE = "kube-system";
export const KUBE_PUBLIC_NAMESPACE = "kube-public";
/** Where kubelets keep their node Leases (the node heartbeat since Kubernetes 1.14). */
export const NODE_LEASE_NAMESPACE = "kube-node-lease";
export const SYSTEM_NAMESPACES = [
  DEFAULT_NAMESPACE,
  KUBE_SYSTEM_NAMESPACE,
  KUBE_PUBLIC_NAMESPACE,
  NODE_LEASE_NAMESPACE,
];

// Node labels the kubelet sets (and the cloud node controller, for topology).
export const HOSTNAME_LABEL = "kubernetes.io/hostname";
export const OS_LABEL = "kubernetes.io/os";
export const ARCH_LABEL = "kubernetes.io/arch";
export const ZONE_LABEL = "topology.kubernetes.io/zone";
export const REGION_LABEL = "topology.kubernetes.io/region";
export const INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type";

/** Names an EndpointSlice's Service (discovery.k8s.io). */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";
/** Names an EndpointSlice's controller; others' slices are left alone. */
export const MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by";
/** Tells a Deployment's ReplicaSets and their pods apart (apps/v1 DefaultDeploymentUniqueLabelKey). */
export const POD_TEMPLATE_HASH_LABEL = "pod-template-hash";

// Taints the control plane sets on nodes.
export const UNREACHABLE_TAINT_KEY = "node.kubernetes.io/unreachable";
export const NOT_READY_TAINT_KEY = "node.kubernetes.io/not-ready";
export const UNSCHEDULABLE_TAINT_KEY = "node.kubernetes.io/unschedulable";

// Service addresses.
/**
 * Where ClusterIPs come from: loopback addresses (each node answers them on `lo`), clear of
 * the pod IPs (127.200.0.0–127.249.255.255) and of 127.0.0.1. About a million addresses.
 */
export const DEFAULT_SERVICE_CLUSTER_IP_CIDR = "127.96.0.0/12";
/**
 * The `kubernetes` Service's cluster IP: the first address of the service range, as
 * kube-apiserver takes it; the allocator reserves it (never picks it, only grants it by name)
 * and the API servers create the Service with it through the same allocation as any Service.
 */
export const KUBERNETES_SERVICE_IP = "127.96.0.1";
/**
 * The `kube-dns` Service's cluster IP: the service range's `.10` address, as kubeadm gives it
 * (the kubelet's `--cluster-dns`). Reserved like the `kubernetes` Service's address; the API
 * servers create the Service with it, and every pod's resolv.conf names it.
 */
export const KUBE_DNS_SERVICE_IP = "127.96.0.10";
/** Offset of the `kube-dns` address from the range's first address (`.1` + 9 = `.10`). */
export const KUBE_DNS_SERVICE_IP_OFFSET = 9;
export const KUBE_DNS_SERVICE_NAME = "kube-dns";
/** The kubelet's `--cluster-domain` default. */
export const DEFAULT_CLUSTER_DOMAIN = "cluster.local";
