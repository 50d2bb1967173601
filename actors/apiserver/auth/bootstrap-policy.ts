/**
 * Kubernetes' bootstrap RBAC policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy), the part
 * bosun's resources need: the user-facing roles (cluster-admin; admin, edit and view aggregated
 * from the `system:aggregate-to-*` roles through their labels), discovery and basic-user for
 * every authenticated user, and the `system:*` roles of the components with their bindings.
 * Every API server writes what is missing once its store answers (kube-apiserver's
 * `rbac/bootstrap-roles` post-start hook); objects already there are left alone, so an
 * operator's edits survive a restart. Every object carries `kubernetes.io/bootstrapping:
 * rbac-defaults`, as Kubernetes' do.
 */
import type { JsonObject } from "../../api/json.ts";
import {
  API_SERVER_USER,
  CLOUD_CONTROLLER_MANAGER_USER,
  KUBE_CONTROLLER_MANAGER_USER,
  KUBE_DNS_USER,
  KUBE_PROXY_USER,
  KUBE_SCHEDULER_USER,
  LOCAL_PATH_PROVISIONER_USER,
  SYSTEM_AUTHENTICATED,
  SYSTEM_MASTERS,
  SYSTEM_NODES,
  SYSTEM_UNAUTHENTICATED,
} from "../../api/user-info.ts";
import type { PolicyRule, Subject } from "./rbac-rules.ts";

export const RBAC_GROUP = "rbac.authorization.k8s.io";
const BOOTSTRAP_LABEL = { "kubernetes.io/bootstrapping": "rbac-defaults" };
export const AGGREGATE_TO_ADMIN = "rbac.authorization.k8s.io/aggregate-to-admin";
export const AGGREGATE_TO_EDIT = "rbac.authorization.k8s.io/aggregate-to-edit";
export const AGGREGATE_TO_VIEW = "rbac.authorization.k8s.io/aggregate-to-view";

const READ = ["get", "list", "watch"];
const WRITE = ["create", "delete", "deletecollection", "patch", "update"];
const READ_WRITE = [...READ, ...WRITE];

const rule = (verbs: string[], apiGroups: string[], resources: string[], names?: string[]) => ({
  verbs,
  apiGroups,
  resources,
  ...(names ? { resourceNames: names } : {}),
});
const urls = (verbs: string[], nonResourceURLs: string[]): PolicyRule => ({
  verbs,
  nonResourceURLs,
});

interface RoleSpec {
  name: string;
  rules: PolicyRule[];
  labels?: Record<string, string>;
  /** Label selectors whose ClusterRoles' rules this one aggregates. */
  aggregateFrom?: string[];
}

const user = (name: string): Subject => ({ kind: "User", apiGroup: RBAC_GROUP, name });
const group = (name: string): Subject => ({ kind: "Group", apiGroup: RBAC_GROUP, name });

const VIEW_RULES: PolicyRule[] = [
  rule(
    READ,
    [""],
    [
      "configmaps",
      "endpoints",
      "persistentvolumeclaims",
      "persistentvolumeclaims/status",
      "pods",
      "replicationcontrollers",
      "replicationcontrollers/scale",
      "serviceaccounts",
      "services",
      "services/status",
      "bindings",
      "events",
      "limitranges",
      "namespaces/status",
      "pods/log",
      "pods/status",
      "replicationcontrollers/status",
      "resourcequotas",
      "resourcequotas/status",
      "namespaces",
    ],
  ),
  rule(
    READ,
    ["apps"],
    [
      "controllerrevisions",
      "daemonsets",
      "daemonsets/status",
      "deployments",
      "deployments/scale",
      "deployments/status",
      "replicasets",
      "replicasets/scale",
      "replicasets/status",
      "statefulsets",
      "statefulsets/scale",
      "statefulsets/status",
    ],
  ),
  rule(READ, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
  rule(READ, ["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
  rule(READ, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
  rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
];

const EDIT_RULES: PolicyRule[] = [
  rule([...WRITE], [""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"]),
  rule(["create"], [""], ["pods/eviction"]),
  rule(
    [...WRITE],
    [""],
    [
      "configmaps",
      "endpoints",
      "persistentvolumeclaims",
      "replicationcontrollers",
      "replicationcontrollers/scale",
      "secrets",
      "serviceaccounts",
      "services",
      "services/proxy",
    ],
  ),
  rule(["create"], [""], ["serviceaccounts/token"]),
  rule(
    [...WRITE],
    ["apps"],
    [
      "daemonsets",
      "deployments",
      "deployments/rollback",
      "deployments/scale",
      "replicasets",
      "replicasets/scale",
      "statefulsets",
      "statefulsets/scale",
    ],
  ),
  rule([...WRITE], ["autoscaling"], ["horizontalpodautoscalers"]),
  rule([...WRITE], ["batch"], ["cronjobs", "jobs"]),
  rule([...WRITE], ["policy"], ["poddisruptionbudgets"]),
  rule([...WRITE], ["discovery.k8s.io"], ["endpointslices"]),
  // edit may read Secrets, view may not (Secrets hold ServiceAccount credentials)
  rule(READ, [""], ["secrets"]),
  rule(["impersonate"], [""], ["serviceaccounts"]),
];

const ADMIN_RULES: PolicyRule[] = [
  rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
  rule(READ_WRITE, [RBAC_GROUP], ["rolebindings", "roles"]),
];

const DISCOVERY_URLS = [
  "/api",
  "/api/*",
  "/apis",
  "/apis/*",
  "/healthz",
  "/livez",
  "/openapi",
  "/openapi/*",
  "/readyz",
  "/version",
  "/version/",
];

/** A kubelet's role; the Node authorizer narrows Secrets, ConfigMaps and claims to its pods. */
const NODE_RULES: PolicyRule[] = [
  rule(["create", "get", "list", "watch", "patch", "update", "delete"], [""], ["nodes"]),
  rule(["patch", "update"], [""], ["nodes/status"]),
  rule(["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
  rule(READ, [""], ["pods", "services", "endpoints"]),
  rule(["create", "delete"], [""], ["pods"]),
  // get: kubectl's patch reads the subresource first (NodeRestriction still limits the write)
  rule(["get", "patch", "update"], [""], ["pods/status"]),
  rule(["create"], [""], ["pods/eviction"]),
  rule(READ, [""], ["persistentvolumes"]),
  rule(READ, ["storage.k8s.io"], ["storageclasses", "csidrivers", "csinodes"]),
  rule(READ_WRITE, ["coordination.k8s.io"], ["leases"]),
  rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
  rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews", "localsubjectaccessreviews"]),
  rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
  rule(READ, ["scheduling.k8s.io"], ["priorityclasses"]),
];

const SCHEDULER_RULES: PolicyRule[] = [
  rule(["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
  rule(["create"], ["coordination.k8s.io"], ["leases"]),
  // Kubernetes names only `kube-scheduler` here; bosun's second schedulers (`bosun scheduler`)
  // speak as this user too and elect on a Lease named after their profile
  rule(["get", "update"], ["coordination.k8s.io"], ["leases"]),
  rule(READ, ["coordination.k8s.io"], ["leases"]),
  rule(READ, [""], ["nodes", "namespaces", "services", "replicationcontrollers", "configmaps"]),
  rule(["delete", ...READ], [""], ["pods"]),
  rule(["create"], [""], ["bindings", "pods/binding"]),
  rule(["patch", "update"], [""], ["pods/status"]),
  rule(READ, ["apps"], ["replicasets", "statefulsets"]),
  rule(READ, ["policy"], ["poddisruptionbudgets"]),
  rule([...READ, "patch", "update"], [""], ["persistentvolumeclaims", "persistentvolumes"]),
  rule(
    READ,
    ["storage.k8s.io"],
    ["storageclasses", "csinodes", "csidrivers", "csistoragecapacities"],
  ),
  rule(READ, ["scheduling.k8s.io"], ["priorityclasses"]),
  rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
  rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
];

/**
 * Kubernetes runs each controller as its own ServiceAccount with a `system:controller:*` role;
 * bosun's controller manager speaks as one identity, so its role is the union of what its
 * controllers do (they read everything they reconcile and write workloads, endpoints, nodes'
 * taints and status, namespaces' finalization, volumes and leases), without RBAC itself and
 * with Secrets only where ServiceAccount tokens need them.
 */
const CONTROLLER_MANAGER_RULES: PolicyRule[] = [
  rule(["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
  rule(READ_WRITE, ["coordination.k8s.io"], ["leases"]),
  rule(
    READ_WRITE,
    [""],
    [
      "pods",
      "pods/status",
      "services",
      "services/status",
      "endpoints",
      "configmaps",
      "serviceaccounts",
      "persistentvolumes",
      "persistentvolumes/status",
      "persistentvolumeclaims",
      "persistentvolumeclaims/status",
      "nodes",
      "nodes/status",
      "namespaces",
      "namespaces/status",
      "namespaces/finalize",
      "secrets",
      "resourcequotas",
      "limitranges",
      "replicationcontrollers",
    ],
  ),
  rule(["create"], [""], ["pods/eviction", "pods/binding", "serviceaccounts/token"]),
  rule(READ_WRITE, ["apps"], ["*"]),
  rule(READ_WRITE, ["batch"], ["*"]),
  rule(READ_WRITE, ["policy"], ["*"]),
  rule(READ_WRITE, ["discovery.k8s.io"], ["*"]),
  rule(READ_WRITE, ["autoscaling"], ["*"]),
  rule(READ, ["storage.k8s.io", "scheduling.k8s.io", "networking.k8s.io"], ["*"]),
  // the garbage collector and the namespace controller walk every kind there is
  rule(["list", "watch", "get", "delete", "deletecollection", "patch", "update"], ["*"], ["*"]),
  // the clusterrole-aggregation controller writes aggregated roles' rules
  rule(["escalate", "get", "list", "watch", "update", "patch"], [RBAC_GROUP], ["clusterroles"]),
  rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
  rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
];

const CLOUD_CONTROLLER_MANAGER_RULES: PolicyRule[] = [
  rule(["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
  rule(READ_WRITE, ["coordination.k8s.io"], ["leases"]),
  rule([...READ, "patch", "update", "delete"], [""], ["nodes", "nodes/status"]),
  rule([...READ, "patch", "update"], [""], ["services", "services/status"]),
  rule(READ, [""], ["endpoints", "pods"]),
  rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
];

const PROXY_RULES: PolicyRule[] = [
  rule(READ, [""], ["endpoints", "services", "nodes"]),
  rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
  rule(["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
];

/** CoreDNS's role (its ClusterRole `system:coredns`), plus the `kube-dns` Service it keeps. */
const KUBE_DNS_RULES: PolicyRule[] = [
  rule(READ, [""], ["endpoints", "services", "pods", "namespaces"]),
  rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
];

/** The API servers' own writes: the `kubernetes` and `kube-dns` Services and their endpoints. */
const API_SERVER_RULES: PolicyRule[] = [
  rule(READ_WRITE, [""], ["services", "endpoints", "namespaces"]),
  rule(READ_WRITE, ["discovery.k8s.io"], ["endpointslices"]),
  rule(READ_WRITE, ["coordination.k8s.io"], ["leases"]),
  rule(["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
];

/** rancher's local-path-provisioner role, which bosun's provisioner mirrors. */
const LOCAL_PATH_RULES: PolicyRule[] = [
  rule(READ, [""], ["nodes", "pods"]),
  rule(
    [...READ, "patch", "update"],
    [""],
    ["persistentvolumeclaims", "persistentvolumeclaims/status"],
  ),
  rule([...READ, "create", "delete", "patch", "update"], [""], ["persistentvolumes"]),
  rule(READ, ["storage.k8s.io"], ["storageclasses"]),
  rule(["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
];

const CLUSTER_ROLES: RoleSpec[] = [
  {
    name: "cluster-admin",
    labels: { "kubernetes.io/bootstrapping": "rbac-defaults" },
    rules: [rule(["*"], ["*"], ["*"]), urls(["*"], ["*"])],
  },
  { name: "admin", rules: [], aggregateFrom: [AGGREGATE_TO_ADMIN] },
  {
    name: "edit",
    rules: [],
    labels: { [AGGREGATE_TO_ADMIN]: "true" },
    aggregateFrom: [AGGREGATE_TO_EDIT],
  },
  {
    name: "view",
    rules: [],
    labels: { [AGGREGATE_TO_EDIT]: "true" },
    aggregateFrom: [AGGREGATE_TO_VIEW],
  },
  {
    name: "system:aggregate-to-admin",
    rules: ADMIN_RULES,
    labels: { [AGGREGATE_TO_ADMIN]: "true" },
  },
  { name: "system:aggregate-to-edit", rules: EDIT_RULES, labels: { [AGGREGATE_TO_EDIT]: "true" } },
  { name: "system:aggregate-to-view", rules: VIEW_RULES, labels: { [AGGREGATE_TO_VIEW]: "true" } },
  { name: "system:discovery", rules: [urls(["get"], DISCOVERY_URLS)] },
  {
    name: "system:public-info-viewer",
    rules: [urls(["get"], ["/healthz", "/livez", "/readyz", "/version", "/version/"])],
  },
  {
    name: "system:basic-user",
    rules: [
      rule(
        ["create"],
        ["authorization.k8s.io"],
        ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
      ),
      rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"]),
    ],
  },
  {
    name: "system:service-account-issuer-discovery",
    rules: [urls(["get"], ["/.well-known/openid-configuration", "/openid/v1/jwks"])],
  },
  { name: "system:node", rules: NODE_RULES },
  { name: "system:kube-scheduler", rules: SCHEDULER_RULES },
  { name: "system:kube-controller-manager", rules: CONTROLLER_MANAGER_RULES },
  { name: "system:cloud-controller-manager", rules: CLOUD_CONTROLLER_MANAGER_RULES },
  { name: "system:node-proxier", rules: PROXY_RULES },
  { name: "system:bosun:kube-dns", rules: KUBE_DNS_RULES },
  { name: "system:bosun:apiserver", rules: API_SERVER_RULES },
  { name: "system:bosun:local-path-provisioner", rules: LOCAL_PATH_RULES },
];

const CLUSTER_ROLE_BINDINGS: { name: string; role: string; subjects: Subject[] }[] = [
  { name: "cluster-admin", role: "cluster-admin", subjects: [group(SYSTEM_MASTERS)] },
  { name: "system:discovery", role: "system:discovery", subjects: [group(SYSTEM_AUTHENTICATED)] },
  { name: "system:basic-user", role: "system:basic-user", subjects: [group(SYSTEM_AUTHENTICATED)] },
  {
    name: "system:public-info-viewer",
    role: "system:public-info-viewer",
    subjects: [group(SYSTEM_AUTHENTICATED), group(SYSTEM_UNAUTHENTICATED)],
  },
  {
    name: "system:service-account-issuer-discovery",
    role: "system:service-account-issuer-discovery",
    subjects: [group("system:serviceaccounts")],
  },
  // Kubernetes leaves this binding without subjects and lets the Node authorizer grant nodes
  // their rules; bosun binds the group and lets the Node authorizer narrow what it must
  { name: "system:node", role: "system:node", subjects: [group(SYSTEM_NODES)] },
  {
    name: "system:kube-scheduler",
    role: "system:kube-scheduler",
    subjects: [user(KUBE_SCHEDULER_USER)],
  },
  {
    name: "system:kube-controller-manager",
    role: "system:kube-controller-manager",
    subjects: [user(KUBE_CONTROLLER_MANAGER_USER)],
  },
  {
    name: "system:cloud-controller-manager",
    role: "system:cloud-controller-manager",
    subjects: [user(CLOUD_CONTROLLER_MANAGER_USER)],
  },
  { name: "system:node-proxier", role: "system:node-proxier", subjects: [user(KUBE_PROXY_USER)] },
  { name: "system:bosun:kube-dns", role: "system:bosun:kube-dns", subjects: [user(KUBE_DNS_USER)] },
  {
    name: "system:bosun:apiserver",
    role: "system:bosun:apiserver",
    subjects: [user(API_SERVER_USER)],
  },
  {
    name: "system:bosun:local-path-provisioner",
    role: "system:bosun:local-path-provisioner",
    subjects: [user(LOCAL_PATH_PROVISIONER_USER)],
  },
];

/** The bootstrap ClusterRoles as objects (aggregated ones with empty rules: the controller fills them). */
export function bootstrapClusterRoles(): JsonObject[] {
  return CLUSTER_ROLES.map((spec) => ({
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: "ClusterRole",
    metadata: {
      name: spec.name,
      labels: { ...BOOTSTRAP_LABEL, ...spec.labels },
      annotations: { "rbac.authorization.kubernetes.io/autoupdate": "true" },
    },
    rules: spec.rules as unknown as JsonObject[],
    ...(spec.aggregateFrom
      ? {
          aggregationRule: {
            clusterRoleSelectors: spec.aggregateFrom.map((label) => ({
              matchLabels: { [label]: "true" },
            })),
          },
        }
      : {}),
  }));
}

export function bootstrapClusterRoleBindings(): JsonObject[] {
  return CLUSTER_ROLE_BINDINGS.map((b) => ({
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: "ClusterRoleBinding",
    metadata: {
      name: b.name,
      labels: { ...BOOTSTRAP_LABEL },
      annotations: { "rbac.authorization.kubernetes.io/autoupdate": "true" },
    },
    roleRef: { apiGroup: RBAC_GROUP, kind: "ClusterRole", name: b.role },
    subjects: b.subjects as unknown as JsonObject[],
  }));
}
