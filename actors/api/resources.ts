/**
 * The built-in resources bosun serves, as `kubectl api-resources` and API discovery describe
 * them: group/version, kind, plural and singular names, short names, scope, verbs, categories
 * and subresources. The API server builds discovery documents and routes from this table.
 */

export type Verb =
  | "create"
  | "delete"
  | "deletecollection"
  | "get"
  | "list"
  | "patch"
  | "update"
  | "watch";

export interface Subresource {
  name: "status" | "scale" | "binding" | "log" | "eviction" | "finalize" | "token";
  /** Kind served at the subresource (`Scale` is autoscaling/v1). */
  kind: string;
  group?: string;
  version?: string;
  verbs: readonly Verb[];
}

export interface ResourceInfo {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  shortNames: readonly string[];
  namespaced: boolean;
  verbs: readonly Verb[];
  categories: readonly string[];
  subresources: readonly Subresource[];
  /** Rule used for `metadata.name`. */
  nameRule: "dns1123Subdomain" | "dns1123Label" | "dns1035Label" | "pathSegment";
}

const ALL_VERBS: readonly Verb[] = [
  "create",
  "delete",
  "deletecollection",
  "get",
  "list",
  "patch",
  "update",
  "watch",
];
const STATUS_VERBS: readonly Verb[] = ["get", "patch", "update"];

const status = (kind: string): Subresource => ({ name: "status", kind, verbs: STATUS_VERBS });
const scale: Subresource = {
  name: "scale",
  kind: "Scale",
  group: "autoscaling",
  version: "v1",
  verbs: STATUS_VERBS,
};

/** HorizontalPodAutoscaler in one of its versions (v2 stored and preferred, v1 for kubectl autoscale). */
const hpa = (version: string, categories: readonly string[]): ResourceInfo => ({
  group: "autoscaling",
  version,
  kind: "HorizontalPodAutoscaler",
  plural: "horizontalpodautoscalers",
  singular: "horizontalpodautoscaler",
  shortNames: ["hpa"],
  namespaced: true,
  verbs: ALL_VERBS,
  categories,
  subresources: [status("HorizontalPodAutoscaler")],
  nameRule: "dns1123Subdomain",
});

export const RESOURCES: readonly ResourceInfo[] = [
  {
    group: "",
    version: "v1",
    kind: "Namespace",
    plural: "namespaces",
    singular: "namespace",
    shortNames: ["ns"],
    namespaced: false,
    verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
    categories: [],
    subresources: [status("Namespace"), { name: "finalize", kind: "Namespace", verbs: ["update"] }],
    nameRule: "dns1123Label",
  },
  {
    group: "",
    version: "v1",
    kind: "Node",
    plural: "nodes",
    singular: "node",
    shortNames: ["no"],
    namespaced: false,
    verbs: ALL_VERBS,
    categories: [],
    subresources: [status("Node")],
    nameRule: "dns1123Subdomain",
  },
  {
    group: "",
    version: "v1",
    kind: "Pod",
    plural: "pods",
    singular: "pod",
    shortNames: ["po"],
    namespaced: true,
    verbs: ALL_VERBS,
    categories: ["all"],
    subresources: [
      status("Pod"),
      { name: "binding", kind: "Binding", verbs: ["create"] },
      { name: "log", kind: "Pod", verbs: ["get"] },
      { name: "eviction", kind: "Eviction", group: "policy", version: "v1", verbs: ["create"] },
    ],
    nameRule: "dns1123Subdomain",
  },
  {
    group: "",
    version: "v1",
    kind: "Service",
    plural: "services",
    singular: "service",
    shortNames: ["svc"],
    namespaced: true,
    verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
    categories: ["all"],
    subresources: [status("Service")],
    nameRule: "dns1035Label",
  },
  {
    group: "",
    version: "v1",
    kind: "Endpoints",
    plural: "endpoints",
    singular: "endpoints",
    shortNames: ["ep"],
    namespaced: true,
    verbs: ALL_VERBS,
    categories: [],
    subresources: [],
    nameRule: "dns1123Subdomain",
  },
  {
    group: "",
    version: "v1",
    kind: "ConfigMap",
    plural: "configmaps",
    singular: "configmap",
    shortNames: ["cm"],
    namespaced: true,
    verbs: ALL_VERBS,
    categories: [],
    subresources: [],
    nameRule: "dns1123Subdomain",
  },
  {
    group: "",
    version: "v1",
    kind: "Secret",
    plural: "secrets",
    singular: "secret",
    shortNames: [],
    namespaced: true,
    verbs: ALL_VERBS,
    categories: [],
    subresources: [],
    nameRule: "dns1123Subdomain",
  },
  {
    group: "",
    version: "v1",
    kind: "Event",
    plural: "events",
    singular: "event",
    shortNames: ["ev"],
    namespaced: true,
    verbs: ALL_VERBS,
    categories: [],
    subresources: [],
    nameRule: "dns1123Subdomain",
  },
  {
    group: "",
    version: "v1",
    kind: "ServiceAccount",
    plural: "serviceaccounts",
    singular: "serviceaccount",
    shortNames: ["sa"],
    namespaced: true,
    verbs: ALL_VERBS,
    categories: [],
    subresources: [
      {
        name: "token",
        kind: "TokenRequest",
        group: "authentication.k8s.io",
        version: "v1",
        verbs: ["create"],
      },
    ],
    nameRule: "dns1123Subdomain",
  },
  {
    group: "apps",
    version: "v1",
    kind: "Deployment",
    plural: "deployments",
    singular: "deployment",
    shortNames: ["deploy"],
    namespaced: true,
    verbs: ALL_VERBS,
    categories: ["all"],
    subresources: [status("Deployment"), scale],
    nameRule: "dns1123Subdomain",
  },
  {
    group: "apps",
    version: "v1",
    kind: "ReplicaSet",
    plural: "replicasets",
    singular: "replicaset",
    shortNames: ["rs"],
    namespaced: true,
    verbs: ALL_VERBS,
    categories: ["all"],
    subresources: [status("ReplicaSet"), scale],
    nameRule: "dns1123Subdomain",
  },
  {
    group: "coordination.k8s.io",
    version: "v1",
    kind: "Lease",
    plural: "leases",
    singular: "lease",
    shortNames: [],
    namespaced: true,
    verbs: ALL_VERBS,
    categories: [],
    subresources: [],
    nameRule: "dns1123Subdomain",
  },
  {
    group: "discovery.k8s.io",
    version: "v1",
    kind: "EndpointSlice",
    plural: "endpointslices",
    singular: "endpointslice",
    shortNames: [],
    namespaced: true,
    verbs: ALL_VERBS,
    categories: [],
    subresources: [],
    nameRule: "dns1123Subdomain",
  },
  {
    group: "scheduling.k8s.io",
    version: "v1",
    kind: "PriorityClass",
    plural: "priorityclasses",
    singular: "priorityclass",
    shortNames: ["pc"],
    namespaced: false,
    verbs: ALL_VERBS,
    categories: [],
    subresources: [],
    nameRule: "dns1123Subdomain",
  },
  {
    group: "policy",
    version: "v1",
    kind: "PodDisruptionBudget",
    plural: "poddisruptionbudgets",
    singular: "poddisruptionbudget",
    shortNames: ["pdb"],
    namespaced: true,
    verbs: ALL_VERBS,
    categories: [],
    subresources: [status("PodDisruptionBudget")],
    nameRule: "dns1123Subdomain",
  },
  {
    group: "batch",
    version: "v1",
    kind: "Job",
    plural: "jobs",
    singular: "job",
    shortNames: [],
    namespaced: true,
    verbs: ALL_VERBS,
    categories: ["all"],
    subresources: [status("Job")],
    nameRule: "dns1123Subdomain",
  },
  {
    group: "batch",
    version: "v1",
    kind: "CronJob",
    plural: "cronjobs",
    singular: "cronjob",
    shortNames: ["cj"],
    namespaced: true,
    verbs: ALL_VERBS,
    categories: ["all"],
    subresources: [status("CronJob")],
    nameRule: "dns1123Subdomain",
  },
  {
    group: "",
    version: "v1",
    kind: "PersistentVolume",
    plural: "persistentvolumes",
    singular: "persistentvolume",
    shortNames: ["pv"],
    namespaced: false,
    verbs: ALL_VERBS,
    categories: [],
    subresources: [status("PersistentVolume")],
    nameRule: "dns1123Subdomain",
  },
  {
    group: "",
    version: "v1",
    kind: "PersistentVolumeClaim",
    plural: "persistentvolumeclaims",
    singular: "persistentvolumeclaim",
    shortNames: ["pvc"],
    namespaced: true,
    verbs: ALL_VERBS,
    categories: [],
    subresources: [status("PersistentVolumeClaim")],
    nameRule: "dns1123Subdomain",
  },
  {
    group: "storage.k8s.io",
    version: "v1",
    kind: "StorageClass",
    plural: "storageclasses",
    singular: "storageclass",
    shortNames: ["sc"],
    namespaced: false,
    verbs: ALL_VERBS,
    categories: [],
    subresources: [],
    nameRule: "dns1123Subdomain",
  },
  {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "Role",
    plural: "roles",
    singular: "role",
    shortNames: [],
    namespaced: true,
    verbs: ALL_VERBS,
    categories: [],
    subresources: [],
    nameRule: "pathSegment",
  },
  {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "ClusterRole",
    plural: "clusterroles",
    singular: "clusterrole",
    shortNames: [],
    namespaced: false,
    verbs: ALL_VERBS,
    categories: [],
    subresources: [],
    nameRule: "pathSegment",
  },
  {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "RoleBinding",
    plural: "rolebindings",
    singular: "rolebinding",
    shortNames: [],
    namespaced: true,
    verbs: ALL_VERBS,
    categories: [],
    subresources: [],
    nameRule: "pathSegment",
  },
  {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "ClusterRoleBinding",
    plural: "clusterrolebindings",
    singular: "clusterrolebinding",
    shortNames: [],
    namespaced: false,
    verbs: ALL_VERBS,
    categories: [],
    subresources: [],
    nameRule: "pathSegment",
  },
  {
    group: "authorization.k8s.io",
    version: "v1",
    kind: "SelfSubjectAccessReview",
    plural: "selfsubjectaccessreviews",
    singular: "selfsubjectaccessreview",
    shortNames: [],
    namespaced: false,
    verbs: ["create"],
    categories: [],
    subresources: [],
    nameRule: "pathSegment",
  },
  {
    group: "authorization.k8s.io",
    version: "v1",
    kind: "SubjectAccessReview",
    plural: "subjectaccessreviews",
    singular: "subjectaccessreview",
    shortNames: [],
    namespaced: false,
    verbs: ["create"],
    categories: [],
    subresources: [],
    nameRule: "pathSegment",
  },
  {
    group: "authorization.k8s.io",
    version: "v1",
    kind: "SelfSubjectRulesReview",
    plural: "selfsubjectrulesreviews",
    singular: "selfsubjectrulesreview",
    shortNames: [],
    namespaced: false,
    verbs: ["create"],
    categories: [],
    subresources: [],
    nameRule: "pathSegment",
  },
  {
    group: "authorization.k8s.io",
    version: "v1",
    kind: "LocalSubjectAccessReview",
    plural: "localsubjectaccessreviews",
    singular: "localsubjectaccessreview",
    shortNames: [],
    namespaced: true,
    verbs: ["create"],
    categories: [],
    subresources: [],
    nameRule: "pathSegment",
  },
  hpa("v2", ["all"]),
  // kubectl autoscale creates through v1; stored as v2 (apiserver/hpa-conversion.ts)
  hpa("v1", []),
  // metrics.k8s.io (metrics-server's API, served by the API server from the kubelets' Summary
  // API): read-only, never stored; last, so `pods` and `nodes` stay the core ones by name
  {
    group: "metrics.k8s.io",
    version: "v1beta1",
    kind: "NodeMetrics",
    plural: "nodes",
    singular: "",
    shortNames: [],
    namespaced: false,
    verbs: ["get", "list"],
    categories: [],
    subresources: [],
    nameRule: "dns1123Subdomain",
  },
  {
    group: "metrics.k8s.io",
    version: "v1beta1",
    kind: "PodMetrics",
    plural: "pods",
    singular: "",
    shortNames: [],
    namespaced: true,
    verbs: ["get", "list"],
    categories: [],
    subresources: [],
    nameRule: "dns1123Subdomain",
  },
];

/** `apiVersion` as objects carry it: `v1` for the core group, `group/version` otherwise. */
export function apiVersionOf(r: Pick<ResourceInfo, "group" | "version">): string {
  return r.group === "" ? r.version : `${r.group}/${r.version}`;
}

/** `group/resource` as Status messages print it: `pods`, `deployments.apps`. */
export function qualifiedResource(r: Pick<ResourceInfo, "group" | "plural">): string {
  return r.group === "" ? r.plural : `${r.plural}.${r.group}`;
}

/** `group/kind` as Invalid messages print it: `Pod`, `Deployment.apps`. */
export function qualifiedKind(r: Pick<ResourceInfo, "group" | "kind">): string {
  return r.group === "" ? r.kind : `${r.kind}.${r.group}`;
}

export function resourceByPlural(plural: string, group?: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.plural === plural && (group === undefined || r.group === group));
}

export function resourceByKind(kind: string, group?: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.kind === kind && (group === undefined || r.group === group));
}

/**
 * What kubectl accepts as a resource argument: plural, singular, short name or kind, case
 * insensitive, optionally `name.group` qualified (`deploy`, `Deployment`, `deployments.apps`).
 */
export function resolveResource(name: string): ResourceInfo | undefined {
  const lower = name.toLowerCase();
  for (const r of RESOURCES) {
    const names = [r.plural, r.singular, r.kind.toLowerCase(), ...r.shortNames];
    if (names.includes(lower)) return r;
    if (r.group !== "" && names.some((n) => `${n}.${r.group}` === lower)) return r;
  }
  return undefined;
}

/** Resources in a category (`kubectl get all`). */
export function resourcesInCategory(category: string): ResourceInfo[] {
  return RESOURCES.filter((r) => r.categories.includes(category));
}
