/**
 * The shape of the built-in types, as data: for each struct type its known JSON fields, and for
 * each field its value type plus the `patchStrategy` / `patchMergeKey` struct tags of the Go
 * types (k8s.io/api core/v1, apps/v1, coordination/v1, discovery/v1, meta/v1). Strategic merge
 * patch reads the patch metadata from here; unknown-field detection (`fieldValidation`) reads
 * the field sets. Free-form or deeply nested parts that neither needs are `freeForm` (kind "any").
 */

export type PatchStrategy = "merge" | "replace" | "retainKeys" | "merge,retainKeys";

export type ValueType =
  | { kind: "scalar" }
  | { kind: "any" }
  | { kind: "map"; values: ValueType }
  | { kind: "struct"; name: string }
  | { kind: "list"; items: ValueType };

export interface FieldSchema {
  type: ValueType;
  patchStrategy?: PatchStrategy;
  patchMergeKey?: string;
}

export type StructSchema = Readonly<Record<string, FieldSchema>>;

const S: ValueType = { kind: "scalar" };
const A: ValueType = { kind: "any" };
const t = (name: string): ValueType => ({ kind: "struct", name });
const mapOf = (values: ValueType): ValueType => ({ kind: "map", values });
const listOf = (items: ValueType): ValueType => ({ kind: "list", items });

const f = (type: ValueType): FieldSchema => ({ type });
const scalar = f(S);
/** A field whose content is not described (free-form for validation and patching). */
const freeForm = f(A);
const stringMap = f(mapOf(S));
const struct = (name: string) => f(t(name));
const list = (items: ValueType) => f(listOf(items));
/** A list merged by key (`patchStrategy:"merge" patchMergeKey:"<key>"`). */
const keyed = (items: ValueType, key: string, strategy: PatchStrategy = "merge"): FieldSchema => ({
  type: listOf(items),
  patchStrategy: strategy,
  patchMergeKey: key,
});
/** A list of primitives merged as a set (`patchStrategy:"merge"`, e.g. finalizers). */
const primitiveSet: FieldSchema = { type: listOf(S), patchStrategy: "merge" };

const fieldsOf = (names: string[], schema: FieldSchema = scalar): Record<string, FieldSchema> =>
  Object.fromEntries(names.map((n) => [n, schema]));

const objectMeta: StructSchema = {
  ...fieldsOf([
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
  ]),
  labels: stringMap,
  annotations: stringMap,
  ownerReferences: keyed(t("OwnerReference"), "uid"),
  finalizers: primitiveSet,
  managedFields: list(A),
};

const containerFields: StructSchema = {
  ...fieldsOf([
    "name",
    "image",
    "workingDir",
    "restartPolicy",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "imagePullPolicy",
    "stdin",
    "stdinOnce",
    "tty",
  ]),
  command: list(S),
  args: list(S),
  ports: keyed(t("ContainerPort"), "containerPort"),
  envFrom: list(A),
  env: keyed(t("EnvVar"), "name"),
  resources: freeForm,
  resizePolicy: list(A),
  restartPolicyRules: list(A),
  volumeMounts: keyed(t("VolumeMount"), "mountPath"),
  volumeDevices: keyed(A, "devicePath"),
  livenessProbe: freeForm,
  readinessProbe: freeForm,
  startupProbe: freeForm,
  lifecycle: freeForm,
  securityContext: freeForm,
};

const VOLUME_SOURCES = [
  "hostPath",
  "emptyDir",
  "gcePersistentDisk",
  "awsElasticBlockStore",
  "gitRepo",
  "secret",
  "nfs",
  "iscsi",
  "glusterfs",
  "persistentVolumeClaim",
  "rbd",
  "flexVolume",
  "cinder",
  "cephfs",
  "flocker",
  "downwardAPI",
  "fc",
  "azureFile",
  "configMap",
  "vsphereVolume",
  "quobyte",
  "azureDisk",
  "photonPersistentDisk",
  "projected",
  "portworxVolume",
  "scaleIO",
  "storageos",
  "csi",
  "ephemeral",
  "image",
];

const podSpec: StructSchema = {
  ...fieldsOf([
    "restartPolicy",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "dnsPolicy",
    "serviceAccountName",
    "serviceAccount",
    "automountServiceAccountToken",
    "nodeName",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "shareProcessNamespace",
    "hostname",
    "subdomain",
    "schedulerName",
    "priorityClassName",
    "priority",
    "runtimeClassName",
    "enableServiceLinks",
    "preemptionPolicy",
    "setHostnameAsFQDN",
    "hostUsers",
    "hostnameOverride",
  ]),
  volumes: keyed(t("Volume"), "name", "merge,retainKeys"),
  initContainers: keyed(t("Container"), "name"),
  containers: keyed(t("Container"), "name"),
  ephemeralContainers: keyed(t("EphemeralContainer"), "name"),
  nodeSelector: stringMap,
  securityContext: freeForm,
  imagePullSecrets: keyed(t("LocalObjectReference"), "name"),
  affinity: freeForm,
  tolerations: list(t("Toleration")),
  hostAliases: keyed(t("HostAlias"), "ip"),
  dnsConfig: freeForm,
  readinessGates: list(A),
  overhead: f(mapOf(A)),
  topologySpreadConstraints: keyed(t("TopologySpreadConstraint"), "topologyKey"),
  os: freeForm,
  schedulingGates: keyed(A, "name"),
  resourceClaims: keyed(A, "name", "merge,retainKeys"),
  resources: freeForm,
};

const podStatus: StructSchema = {
  ...fieldsOf([
    "observedGeneration",
    "phase",
    "message",
    "reason",
    "nominatedNodeName",
    "hostIP",
    "podIP",
    "startTime",
    "qosClass",
    "resize",
  ]),
  conditions: keyed(A, "type"),
  hostIPs: keyed(A, "ip"),
  podIPs: keyed(A, "ip"),
  initContainerStatuses: list(A),
  containerStatuses: list(A),
  ephemeralContainerStatuses: list(A),
  resourceClaimStatuses: keyed(A, "name", "merge,retainKeys"),
  extendedResourceClaimStatus: freeForm,
};

/** Every struct type by name. */
export const STRUCTS: Readonly<Record<string, StructSchema>> = {
  ObjectMeta: objectMeta,
  OwnerReference: fieldsOf([
    "apiVersion",
    "kind",
    "name",
    "uid",
    "controller",
    "blockOwnerDeletion",
  ]),
  LocalObjectReference: fieldsOf(["name"]),
  PodTemplateSpec: { metadata: struct("ObjectMeta"), spec: struct("PodSpec") },
  PodSpec: podSpec,
  PodStatus: podStatus,
  Container: containerFields,
  EphemeralContainer: { ...containerFields, targetContainerName: scalar },
  ContainerPort: fieldsOf(["name", "hostPort", "containerPort", "protocol", "hostIP"]),
  EnvVar: { ...fieldsOf(["name", "value"]), valueFrom: freeForm },
  VolumeMount: fieldsOf([
    "name",
    "readOnly",
    "recursiveReadOnly",
    "mountPath",
    "subPath",
    "mountPropagation",
    "subPathExpr",
  ]),
  Volume: { name: scalar, ...fieldsOf(VOLUME_SOURCES, freeForm) },
  Toleration: fieldsOf(["key", "operator", "value", "effect", "tolerationSeconds"]),
  HostAlias: { ip: scalar, hostnames: list(S) },
  TopologySpreadConstraint: {
    ...fieldsOf([
      "maxSkew",
      "topologyKey",
      "whenUnsatisfiable",
      "minDomains",
      "nodeAffinityPolicy",
      "nodeTaintsPolicy",
    ]),
    labelSelector: freeForm,
    matchLabelKeys: list(S),
  },
  ServiceSpec: {
    ...fieldsOf([
      "clusterIP",
      "type",
      "sessionAffinity",
      "loadBalancerIP",
      "externalName",
      "externalTrafficPolicy",
      "healthCheckNodePort",
      "publishNotReadyAddresses",
      "ipFamilyPolicy",
      "allocateLoadBalancerNodePorts",
      "loadBalancerClass",
      "internalTrafficPolicy",
      "trafficDistribution",
    ]),
    ports: keyed(t("ServicePort"), "port"),
    selector: stringMap,
    clusterIPs: list(S),
    externalIPs: list(S),
    loadBalancerSourceRanges: list(S),
    sessionAffinityConfig: freeForm,
    ipFamilies: list(S),
  },
  ServicePort: {
    ...fieldsOf(["name", "protocol", "appProtocol", "port", "nodePort"]),
    targetPort: freeForm,
  },
  ServiceStatus: { loadBalancer: freeForm, conditions: keyed(A, "type") },
  NamespaceSpec: { finalizers: list(S) },
  NamespaceStatus: { phase: scalar, conditions: keyed(A, "type") },
  NodeSpec: {
    ...fieldsOf(["podCIDR", "providerID", "unschedulable", "externalID"]),
    podCIDRs: primitiveSet,
    taints: list(A),
    configSource: freeForm,
  },
  NodeStatus: {
    capacity: f(mapOf(A)),
    allocatable: f(mapOf(A)),
    phase: scalar,
    conditions: keyed(A, "type"),
    addresses: keyed(A, "type"),
    daemonEndpoints: freeForm,
    nodeInfo: freeForm,
    images: list(A),
    volumesInUse: list(S),
    volumesAttached: list(A),
    config: freeForm,
    runtimeHandlers: list(A),
    features: freeForm,
    declaredFeatures: list(S),
  },
  DeploymentSpec: {
    ...fieldsOf([
      "replicas",
      "minReadySeconds",
      "revisionHistoryLimit",
      "paused",
      "progressDeadlineSeconds",
    ]),
    selector: freeForm,
    template: struct("PodTemplateSpec"),
    strategy: { type: t("DeploymentStrategy"), patchStrategy: "retainKeys" },
  },
  DeploymentStrategy: { type: scalar, rollingUpdate: freeForm },
  DeploymentStatus: {
    ...fieldsOf([
      "observedGeneration",
      "replicas",
      "updatedReplicas",
      "readyReplicas",
      "availableReplicas",
      "unavailableReplicas",
      "terminatingReplicas",
      "collisionCount",
    ]),
    conditions: keyed(A, "type"),
  },
  ReplicaSetSpec: {
    ...fieldsOf(["replicas", "minReadySeconds"]),
    selector: freeForm,
    template: struct("PodTemplateSpec"),
  },
  ReplicaSetStatus: {
    ...fieldsOf([
      "replicas",
      "fullyLabeledReplicas",
      "readyReplicas",
      "availableReplicas",
      "terminatingReplicas",
      "observedGeneration",
    ]),
    conditions: keyed(A, "type"),
  },
  PodDisruptionBudgetSpec: {
    ...fieldsOf(["minAvailable", "maxUnavailable", "unhealthyPodEvictionPolicy"]),
    selector: freeForm,
  },
  PodDisruptionBudgetStatus: {
    ...fieldsOf([
      "observedGeneration",
      "disruptionsAllowed",
      "currentHealthy",
      "desiredHealthy",
      "expectedPods",
    ]),
    disruptedPods: stringMap,
    conditions: keyed(A, "type"),
  },
  JobSpec: {
    ...fieldsOf([
      "parallelism",
      "completions",
      "activeDeadlineSeconds",
      "backoffLimit",
      "backoffLimitPerIndex",
      "maxFailedIndexes",
      "manualSelector",
      "ttlSecondsAfterFinished",
      "completionMode",
      "suspend",
      "podReplacementPolicy",
      "managedBy",
    ]),
    selector: freeForm,
    template: struct("PodTemplateSpec"),
    podFailurePolicy: freeForm,
    successPolicy: freeForm,
  },
  JobStatus: {
    ...fieldsOf([
      "startTime",
      "completionTime",
      "active",
      "succeeded",
      "failed",
      "terminating",
      "ready",
      "completedIndexes",
      "failedIndexes",
    ]),
    conditions: keyed(A, "type"),
    uncountedTerminatedPods: freeForm,
  },
  JobTemplateSpec: { metadata: struct("ObjectMeta"), spec: struct("JobSpec") },
  CronJobSpec: {
    ...fieldsOf([
      "schedule",
      "timeZone",
      "startingDeadlineSeconds",
      "concurrencyPolicy",
      "suspend",
      "successfulJobsHistoryLimit",
      "failedJobsHistoryLimit",
    ]),
    jobTemplate: struct("JobTemplateSpec"),
  },
  CronJobStatus: {
    ...fieldsOf(["lastScheduleTime", "lastSuccessfulTime"]),
    active: list(A),
  },
  PersistentVolumeSpec: {
    ...fieldsOf([
      "persistentVolumeReclaimPolicy",
      "storageClassName",
      "volumeMode",
      "volumeAttributesClassName",
    ]),
    capacity: stringMap,
    accessModes: list(S),
    local: freeForm,
    hostPath: freeForm,
    nodeAffinity: freeForm,
    claimRef: freeForm,
    mountOptions: list(S),
  },
  PersistentVolumeStatus: fieldsOf(["phase", "message", "reason", "lastPhaseTransitionTime"]),
  PersistentVolumeClaimSpec: {
    ...fieldsOf(["volumeName", "storageClassName", "volumeMode", "volumeAttributesClassName"]),
    accessModes: list(S),
    resources: freeForm,
    selector: freeForm,
    dataSource: freeForm,
    dataSourceRef: freeForm,
  },
  PersistentVolumeClaimStatus: {
    ...fieldsOf(["phase"]),
    accessModes: list(S),
    capacity: stringMap,
    conditions: keyed(A, "type"),
  },
  LeaseSpec: fieldsOf([
    "holderIdentity",
    "leaseDurationSeconds",
    "acquireTime",
    "renewTime",
    "leaseTransitions",
    "strategy",
    "preferredHolder",
  ]),
};

const typeMeta = { apiVersion: scalar, kind: scalar, metadata: struct("ObjectMeta") };

/** The root struct of each kind. */
export const KIND_ROOTS: Readonly<Record<string, StructSchema>> = {
  Namespace: { ...typeMeta, spec: struct("NamespaceSpec"), status: struct("NamespaceStatus") },
  Node: { ...typeMeta, spec: struct("NodeSpec"), status: struct("NodeStatus") },
  Pod: { ...typeMeta, spec: struct("PodSpec"), status: struct("PodStatus") },
  Service: { ...typeMeta, spec: struct("ServiceSpec"), status: struct("ServiceStatus") },
  Endpoints: { ...typeMeta, subsets: list(A) },
  ConfigMap: { ...typeMeta, data: stringMap, binaryData: stringMap, immutable: scalar },
  Secret: {
    ...typeMeta,
    data: stringMap,
    stringData: stringMap,
    type: scalar,
    immutable: scalar,
  },
  Event: {
    ...typeMeta,
    ...fieldsOf([
      "reason",
      "message",
      "firstTimestamp",
      "lastTimestamp",
      "count",
      "type",
      "eventTime",
      "action",
      "reportingComponent",
      "reportingInstance",
    ]),
    involvedObject: freeForm,
    source: freeForm,
    series: freeForm,
    related: freeForm,
  },
  ServiceAccount: {
    ...typeMeta,
    secrets: keyed(A, "name"),
    imagePullSecrets: list(A),
    automountServiceAccountToken: scalar,
  },
  Deployment: { ...typeMeta, spec: struct("DeploymentSpec"), status: struct("DeploymentStatus") },
  ReplicaSet: { ...typeMeta, spec: struct("ReplicaSetSpec"), status: struct("ReplicaSetStatus") },
  Lease: { ...typeMeta, spec: struct("LeaseSpec") },
  Job: { ...typeMeta, spec: struct("JobSpec"), status: struct("JobStatus") },
  PersistentVolume: {
    ...typeMeta,
    spec: struct("PersistentVolumeSpec"),
    status: struct("PersistentVolumeStatus"),
  },
  PersistentVolumeClaim: {
    ...typeMeta,
    spec: struct("PersistentVolumeClaimSpec"),
    status: struct("PersistentVolumeClaimStatus"),
  },
  StorageClass: {
    ...typeMeta,
    ...fieldsOf(["provisioner", "reclaimPolicy", "volumeBindingMode", "allowVolumeExpansion"]),
    parameters: stringMap,
    mountOptions: list(S),
    allowedTopologies: list(A),
  },
  CronJob: { ...typeMeta, spec: struct("CronJobSpec"), status: struct("CronJobStatus") },
  PriorityClass: {
    ...typeMeta,
    ...fieldsOf(["value", "globalDefault", "description", "preemptionPolicy"]),
  },
  PodDisruptionBudget: {
    ...typeMeta,
    spec: struct("PodDisruptionBudgetSpec"),
    status: struct("PodDisruptionBudgetStatus"),
  },
  EndpointSlice: { ...typeMeta, addressType: scalar, endpoints: list(A), ports: list(A) },
  Role: { ...typeMeta, rules: list(A) },
  ClusterRole: { ...typeMeta, rules: list(A), aggregationRule: freeForm },
  RoleBinding: { ...typeMeta, subjects: list(A), roleRef: freeForm },
  ClusterRoleBinding: { ...typeMeta, subjects: list(A), roleRef: freeForm },
  SelfSubjectAccessReview: { ...typeMeta, spec: freeForm, status: freeForm },
  SubjectAccessReview: { ...typeMeta, spec: freeForm, status: freeForm },
  LocalSubjectAccessReview: { ...typeMeta, spec: freeForm, status: freeForm },
  SelfSubjectRulesReview: { ...typeMeta, spec: freeForm, status: freeForm },
};

/** A struct type by name, or undefined for unknown names. */
export function structSchema(name: string): StructSchema | undefined {
  return STRUCTS[name];
}

/** The root schema of a kind as a value type (`{kind:"struct"}` resolving via kindRoot). */
export function kindRoot(kind: string): StructSchema | undefined {
  return KIND_ROOTS[kind];
}

/** The struct a value type names, resolving kind roots too. */
export function resolveStruct(type: ValueType | undefined): StructSchema | undefined {
  return type?.kind === "struct" ? STRUCTS[type.name] : undefined;
}
