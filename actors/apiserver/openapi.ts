/**
 * OpenAPI v3 documents for the built-in kinds, generated from the type knowledge in
 * `api/schema.ts` (fields, patch strategies and merge keys) plus the descriptions below.
 * kubectl reads them for three things: whether an operation takes `fieldValidation` (then it
 * leaves validation to the server instead of validating client-side), strategic merge patch
 * metadata for `kubectl apply`, and `kubectl explain`. `/openapi/v3` lists one document per group
 * version, each at `/openapi/v3/<api|apis/group>/<version>?hash=…` (the hash lets clients cache).
 */
import { createHash } from "node:crypto";
import { apiVersionOf, RESOURCES, type ResourceInfo } from "../api/resources.ts";
import { type FieldSchema, KIND_ROOTS, STRUCTS, type ValueType } from "../api/schema.ts";

type Schema = Record<string, unknown>;

/** The Go package of a struct type, as Kubernetes names its OpenAPI definitions. */
function definitionName(struct: string): string {
  if (struct === "ObjectMeta" || struct === "OwnerReference")
    return `io.k8s.apimachinery.pkg.apis.meta.v1.${struct}`;
  if (/^(Deployment|ReplicaSet)/.test(struct)) return `io.k8s.api.apps.v1.${struct}`;
  if (struct.startsWith("Lease")) return `io.k8s.api.coordination.v1.${struct}`;
  if (struct.startsWith("EndpointSlice")) return `io.k8s.api.discovery.v1.${struct}`;
  if (struct.startsWith("StorageClass")) return `io.k8s.api.storage.v1.${struct}`;
  if (/^(Job|CronJob)/.test(struct)) return `io.k8s.api.batch.v1.${struct}`;
  if (struct.startsWith("PriorityClass")) return `io.k8s.api.scheduling.v1.${struct}`;
  if (struct.startsWith("PodDisruptionBudget")) return `io.k8s.api.policy.v1.${struct}`;
  if (/^(Cluster)?Role(Binding)?$/.test(struct)) return `io.k8s.api.rbac.v1.${struct}`;
  if (/SubjectAccessReview$/.test(struct)) return `io.k8s.api.authorization.v1.${struct}`;
  return `io.k8s.api.core.v1.${struct}`;
}

const ref = (struct: string) => ({ $ref: `#/components/schemas/${definitionName(struct)}` });

const OBJECT_FIELDS = {
  apiVersion:
    "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.",
  kind: "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase.",
  metadata: "Standard object's metadata.",
  spec: "Spec defines the desired state of the object.",
  status:
    "Status is the most recently observed state of the object. Populated by the system. Read-only.",
};

/** Descriptions of kinds, structs (`Struct`) and fields (`Struct.field`); the rest go without. */
const DESCRIPTIONS: Readonly<Record<string, string>> = {
  Namespace: "Namespace provides a scope for Names. Use of multiple namespaces is optional.",
  Node: "Node is a worker node in Kubernetes. Each node will have a unique identifier in the cache (i.e. in etcd).",
  Pod: "Pod is a collection of containers that can run on a host. This resource is created by clients and scheduled onto hosts.",
  Service:
    "Service is a named abstraction of software service (for example, mysql) consisting of local port (for example 3306) that the proxy listens on, and the selector that determines which pods will answer requests sent through the proxy.",
  Endpoints: "Endpoints is a collection of endpoints that implement the actual service.",
  ConfigMap: "ConfigMap holds configuration data for pods to consume.",
  Secret:
    "Secret holds secret data of a certain type. The total bytes of the values in the Data field must be less than MaxSecretSize bytes.",
  Event: "Event is a report of an event somewhere in the cluster.",
  ServiceAccount:
    "ServiceAccount binds together: a name, understood by users, and perhaps by peripheral systems, for an identity; a principal that can be authenticated and authorized; a set of secrets.",
  Deployment: "Deployment enables declarative updates for Pods and ReplicaSets.",
  ReplicaSet:
    "ReplicaSet ensures that a specified number of pod replicas are running at any given time.",
  Lease: "Lease defines a lease concept.",
  EndpointSlice: "EndpointSlice represents a subset of the endpoints that implement a service.",
  Job: "Job represents the configuration of a single job.",
  PersistentVolume:
    "PersistentVolume (PV) is a storage resource provisioned by an administrator. It is analogous to a node.",
  PersistentVolumeClaim:
    "PersistentVolumeClaim is a user's request for and claim to a persistent volume",
  StorageClass:
    "StorageClass describes the parameters for a class of storage for which PersistentVolumes can be dynamically provisioned.",
  "StorageClass.volumeBindingMode":
    "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound. When unset, VolumeBindingImmediate is used.",
  CronJob: "CronJob represents the configuration of a single cron job.",
  "JobSpec.completions":
    "Specifies the desired number of successfully finished pods the job should be run with.",
  "JobSpec.parallelism":
    "Specifies the maximum desired number of pods the job should run at any given time.",
  "JobSpec.backoffLimit":
    "Specifies the number of retries before marking this job failed. Defaults to 6",
  "JobSpec.activeDeadlineSeconds":
    "Specifies the duration in seconds relative to the startTime that the job may be continuously active before the system tries to terminate it; value must be positive integer.",
  "JobSpec.ttlSecondsAfterFinished":
    "ttlSecondsAfterFinished limits the lifetime of a Job that has finished execution (either Complete or Failed).",
  "CronJobSpec.schedule": "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
  "CronJobSpec.concurrencyPolicy":
    "Specifies how to treat concurrent executions of a Job. Valid values are: Allow, Forbid, Replace.",
  "CronJobSpec.startingDeadlineSeconds":
    "Optional deadline in seconds for starting the job if it misses scheduled time for any reason. Missed jobs executions will be counted as failed ones.",
  PriorityClass:
    "PriorityClass defines mapping from a priority class name to the priority integer value. The value can be any valid integer.",
  "PriorityClass.value":
    "value represents the integer value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec.",
  "PriorityClass.globalDefault":
    "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class. Only one PriorityClass can be marked as `globalDefault`.",
  "PriorityClass.preemptionPolicy":
    "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset.",
  PodDisruptionBudget:
    "PodDisruptionBudget is an object to define the max disruption that can be caused to a collection of pods",
  "PodDisruptionBudgetSpec.minAvailable":
    'An eviction is allowed if at least "minAvailable" pods selected by "selector" will still be available after the eviction, i.e. even in the absence of the evicted pod.',
  "PodDisruptionBudgetSpec.maxUnavailable":
    'An eviction is allowed if at most "maxUnavailable" pods selected by "selector" are unavailable after the eviction, i.e. even in absence of the evicted pod.',
  ObjectMeta:
    "ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.",
  "ObjectMeta.name":
    "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Cannot be updated.",
  "ObjectMeta.generateName":
    "GenerateName is an optional prefix, used by the server, to generate a unique name ONLY IF the Name field has not been provided.",
  "ObjectMeta.namespace":
    'Namespace defines the space within which each name must be unique. An empty namespace is equivalent to the "default" namespace.',
  "ObjectMeta.labels":
    "Map of string keys and values that can be used to organize and categorize (scope and select) objects.",
  "ObjectMeta.annotations":
    "Annotations is an unstructured key value map stored with a resource that may be set by external tools to store and retrieve arbitrary metadata.",
  "ObjectMeta.resourceVersion":
    "An opaque value that represents the internal version of this object that can be used by clients to determine when objects have changed.",
  "ObjectMeta.uid": "UID is the unique in time and space value for this object.",
  "ObjectMeta.finalizers":
    "Must be empty before the object is deleted from the registry. Each entry is an identifier for the responsible component that will remove the entry from the list.",
  "ObjectMeta.ownerReferences":
    "List of objects depended by this object. If ALL objects in the list have been deleted, this object will be garbage collected.",
  PodSpec: "PodSpec is a description of a pod.",
  "PodSpec.containers":
    "List of containers belonging to the pod. Containers cannot currently be added or removed. There must be at least one container in a Pod. Cannot be updated.",
  "PodSpec.initContainers":
    "List of initialization containers belonging to the pod. Init containers are executed in order prior to containers being started.",
  "PodSpec.volumes": "List of volumes that can be mounted by containers belonging to the pod.",
  "PodSpec.restartPolicy":
    "Restart policy for all containers within the pod. One of Always, OnFailure, Never. Default to Always.",
  "PodSpec.nodeName":
    "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName.",
  "PodSpec.nodeSelector":
    "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node.",
  "PodSpec.serviceAccountName":
    "ServiceAccountName is the name of the ServiceAccount to use to run this pod.",
  "PodSpec.terminationGracePeriodSeconds":
    "Optional duration in seconds the pod needs to terminate gracefully. Defaults to 30 seconds.",
  "PodSpec.tolerations": "If specified, the pod's tolerations.",
  "PodSpec.hostNetwork": "Host networking requested for this pod. Default to false.",
  PodTemplateSpec:
    "PodTemplateSpec describes the data a pod should have when created from a template",
  "PodTemplateSpec.metadata": "Standard object's metadata.",
  "PodTemplateSpec.spec": "Specification of the desired behavior of the pod.",
  Container: "A single application container that you want to run within a pod.",
  "Container.name": "Name of the container specified as a DNS_LABEL. Cannot be updated.",
  "Container.image": "Container image name.",
  "Container.command":
    "Entrypoint array. Not executed within a shell. The container image's ENTRYPOINT is used if this is not provided.",
  "Container.args":
    "Arguments to the entrypoint. The container image's CMD is used if this is not provided.",
  "Container.ports": "List of ports to expose from the container.",
  "Container.env": "List of environment variables to set in the container. Cannot be updated.",
  "Container.imagePullPolicy": "Image pull policy. One of Always, Never, IfNotPresent.",
  "Container.volumeMounts":
    "Pod volumes to mount into the container's filesystem. Cannot be updated.",
  "Container.resources": "Compute Resources required by this container.",
  ServiceSpec: "ServiceSpec describes the attributes that a user creates on a service.",
  "ServiceSpec.ports": "The list of ports that are exposed by this service.",
  "ServiceSpec.selector":
    "Route service traffic to pods with label keys and values matching this selector.",
  "ServiceSpec.type":
    "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer.",
  "ServiceSpec.clusterIP":
    "clusterIP is the IP address of the service and is usually assigned randomly.",
  ServicePort: "ServicePort contains information on service's port.",
  "ServicePort.port": "The port that will be exposed by this service.",
  "ServicePort.targetPort":
    "Number or name of the port to access on the pods targeted by the service.",
  DeploymentSpec: "DeploymentSpec is the specification of the desired behavior of the Deployment.",
  "DeploymentSpec.replicas":
    "Number of desired pods. This is a pointer to distinguish between explicit zero and not specified. Defaults to 1.",
  "DeploymentSpec.selector":
    "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment. It must match the pod template's labels.",
  "DeploymentSpec.template":
    'Template describes the pods that will be created. The only allowed template.spec.restartPolicy value is "Always".',
  "DeploymentSpec.strategy":
    "The deployment strategy to use to replace existing pods with new ones.",
  "DeploymentSpec.minReadySeconds":
    "Minimum number of seconds for which a newly created pod should be ready without any of its container crashing, for it to be considered available.",
  "DeploymentSpec.revisionHistoryLimit":
    "The number of old ReplicaSets to retain to allow rollback. Defaults to 10.",
  ReplicaSetSpec: "ReplicaSetSpec is the specification of a ReplicaSet.",
  "ReplicaSetSpec.replicas": "Replicas is the number of desired pods. Defaults to 1.",
  "ReplicaSetSpec.selector":
    "Selector is a label query over pods that should match the replica count.",
  "ReplicaSetSpec.template":
    "Template is the object that describes the pod that will be created if insufficient replicas are detected.",
  "ConfigMap.data":
    "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'.",
  "ConfigMap.binaryData": "BinaryData contains the binary data (base64 encoded).",
  "ConfigMap.immutable":
    "Immutable, if set to true, ensures that data stored in the ConfigMap cannot be updated.",
  "Secret.data": "Data contains the secret data, base64 encoded.",
  "Secret.stringData":
    "stringData allows specifying non-binary secret data in string form. It is merged into the data field on write.",
  "Secret.type": "Used to facilitate programmatic handling of secret data.",
};

const INTEGER_FIELDS = new Set([
  "generation",
  "deletionGracePeriodSeconds",
  "port",
  "containerPort",
  "hostPort",
  "nodePort",
  "healthCheckNodePort",
  "priority",
  "maxSkew",
  "minDomains",
  "count",
  "leaseDurationSeconds",
  "leaseTransitions",
  "collisionCount",
]);
const BOOLEAN_FIELDS = new Set([
  "controller",
  "blockOwnerDeletion",
  "stdin",
  "stdinOnce",
  "tty",
  "automountServiceAccountToken",
  "hostNetwork",
  "hostPID",
  "hostIPC",
  "shareProcessNamespace",
  "enableServiceLinks",
  "setHostnameAsFQDN",
  "hostUsers",
  "readOnly",
  "publishNotReadyAddresses",
  "allocateLoadBalancerNodePorts",
  "paused",
  "unschedulable",
  "immutable",
]);
const TIME_FIELDS = new Set([
  "creationTimestamp",
  "deletionTimestamp",
  "startTime",
  "firstTimestamp",
  "lastTimestamp",
  "eventTime",
  "acquireTime",
  "renewTime",
]);

function scalarSchema(field: string): Schema {
  if (INTEGER_FIELDS.has(field) || /(Seconds|Replicas|^replicas|Generation|Limit)$/.test(field))
    return { type: "integer", format: field === "generation" ? "int64" : "int32" };
  if (BOOLEAN_FIELDS.has(field)) return { type: "boolean" };
  if (TIME_FIELDS.has(field)) return { type: "string", format: "date-time" };
  return { type: "string" };
}

const INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";

/** Free-form parts: IntOrString where Kubernetes has one, else an object kept as sent. */
function anySchema(field: string): Schema {
  if (field === "targetPort" || field === "maxSurge" || field === "maxUnavailable")
    return { allOf: [{ $ref: `#/components/schemas/${INT_OR_STRING}` }] };
  return { type: "object", "x-kubernetes-preserve-unknown-fields": true };
}

function valueSchema(type: ValueType, field: string, used: Set<string>): Schema {
  switch (type.kind) {
    case "scalar":
      return scalarSchema(field);
    case "any":
      return anySchema(field);
    case "struct":
      used.add(type.name);
      return { allOf: [ref(type.name)], default: {} };
    case "map":
      return {
        type: "object",
        additionalProperties:
          type.values.kind === "scalar"
            ? { type: "string", default: "" }
            : valueSchema(type.values, field, used),
      };
    case "list":
      return { type: "array", items: valueSchema(type.items, "", used) };
  }
}

function fieldSchema(owner: string, name: string, field: FieldSchema, used: Set<string>): Schema {
  const out: Schema = valueSchema(field.type, name, used);
  const description =
    DESCRIPTIONS[`${owner}.${name}`] ??
    (name in OBJECT_FIELDS ? OBJECT_FIELDS[name as keyof typeof OBJECT_FIELDS] : undefined);
  if (description) out.description = description;
  if (field.patchMergeKey) out["x-kubernetes-patch-merge-key"] = field.patchMergeKey;
  if (field.patchStrategy) out["x-kubernetes-patch-strategy"] = field.patchStrategy;
  return out;
}

function structDefinition(
  name: string,
  fields: Readonly<Record<string, FieldSchema>>,
  used: Set<string>,
): Schema {
  const properties: Record<string, Schema> = {};
  for (const [k, f] of Object.entries(fields)) properties[k] = fieldSchema(name, k, f, used);
  const out: Schema = { type: "object", properties };
  if (DESCRIPTIONS[name]) out.description = DESCRIPTIONS[name];
  return out;
}

const gvk = (r: ResourceInfo) => ({ group: r.group, kind: r.kind, version: r.version });

function param(name: string, where: "query" | "path", description: string): Schema {
  return { name, in: where, description, schema: { type: "string", uniqueItems: true } };
}

const PARAMS = {
  name: { ...param("name", "path", "name of the resource"), required: true },
  namespace: { ...param("namespace", "path", "object name and auth scope"), required: true },
  pretty: param("pretty", "query", "If 'true', then the output is pretty printed."),
  dryRun: param(
    "dryRun",
    "query",
    "When present, indicates that modifications should not be persisted. Valid value: All.",
  ),
  fieldManager: param(
    "fieldManager",
    "query",
    "fieldManager is a name of the actor making changes.",
  ),
  fieldValidation: param(
    "fieldValidation",
    "query",
    "fieldValidation instructs the server on how to handle objects in the request containing unknown fields: Ignore, Warn (the default) or Strict.",
  ),
  labelSelector: param(
    "labelSelector",
    "query",
    "A selector to restrict the list of returned objects by their labels.",
  ),
  fieldSelector: param(
    "fieldSelector",
    "query",
    "A selector to restrict the list of returned objects by their fields.",
  ),
  limit: param(
    "limit",
    "query",
    "limit is a maximum number of responses to return for a list call.",
  ),
  continue: param(
    "continue",
    "query",
    "The continue option should be set when retrieving more results from the server.",
  ),
  resourceVersion: param(
    "resourceVersion",
    "query",
    "resourceVersion sets a constraint on what resource versions a request may be served from.",
  ),
  watch: param(
    "watch",
    "query",
    "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.",
  ),
  allowWatchBookmarks: param(
    "allowWatchBookmarks",
    "query",
    'allowWatchBookmarks requests watch events with type "BOOKMARK".',
  ),
  timeoutSeconds: param("timeoutSeconds", "query", "Timeout for the list/watch call."),
};

const LIST_PARAMS = [
  PARAMS.labelSelector,
  PARAMS.fieldSelector,
  PARAMS.limit,
  PARAMS.continue,
  PARAMS.resourceVersion,
  PARAMS.watch,
  PARAMS.allowWatchBookmarks,
  PARAMS.timeoutSeconds,
];

const JSON_TYPES = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"];
const PATCH_CONTENT_TYPES = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
];

function content(types: readonly string[], schema: Schema): Schema {
  return Object.fromEntries(types.map((t) => [t, { schema }]));
}

function operations(r: ResourceInfo): Record<string, Schema> {
  const kind = ref(r.kind);
  const ok = (schema: Schema) => ({
    "200": { description: "OK", content: content(["application/json"], schema) },
  });
  const op = (action: string, verb: string, extra: Schema): Schema => ({
    description: `${verb} ${r.kind}`,
    operationId: `${action}${r.kind}`,
    "x-kubernetes-action": action,
    "x-kubernetes-group-version-kind": gvk(r),
    ...extra,
  });
  const base = r.group === "" ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  const collection = r.namespaced
    ? `${base}/namespaces/{namespace}/${r.plural}`
    : `${base}/${r.plural}`;
  const scope = r.namespaced ? [PARAMS.namespace, PARAMS.pretty] : [PARAMS.pretty];
  const writes = [PARAMS.dryRun, PARAMS.fieldManager, PARAMS.fieldValidation];
  const has = (v: string) => r.verbs.includes(v as ResourceInfo["verbs"][number]);
  const paths: Record<string, Schema> = {};
  const coll: Schema = { parameters: scope };
  if (has("list"))
    coll.get = op("list", "list or watch objects of kind", {
      parameters: LIST_PARAMS,
      responses: ok({ type: "object" }),
    });
  if (has("create"))
    coll.post = op("post", "create a", {
      parameters: writes,
      requestBody: { content: content(JSON_TYPES, kind), required: true },
      responses: ok(kind),
    });
  if (has("deletecollection"))
    coll.delete = op("deletecollection", "delete collection of", {
      parameters: [PARAMS.labelSelector, PARAMS.fieldSelector, PARAMS.dryRun],
      responses: ok({ type: "object" }),
    });
  paths[collection] = coll;
  const item: Schema = { parameters: [PARAMS.name, ...scope] };
  if (has("get")) item.get = op("get", "read the specified", { responses: ok(kind) });
  if (has("update"))
    item.put = op("put", "replace the specified", {
      parameters: writes,
      requestBody: { content: content(JSON_TYPES, kind), required: true },
      responses: ok(kind),
    });
  if (has("patch"))
    item.patch = op("patch", "partially update the specified", {
      parameters: writes,
      requestBody: { content: content(PATCH_CONTENT_TYPES, { type: "object" }), required: true },
      responses: ok(kind),
    });
  if (has("delete"))
    item.delete = op("delete", "delete a", { parameters: [PARAMS.dryRun], responses: ok(kind) });
  paths[`${collection}/{name}`] = item;
  if (r.namespaced && has("list"))
    paths[`${base}/${r.plural}`] = {
      parameters: [PARAMS.pretty],
      get: op("list", "list or watch objects of kind", {
        parameters: LIST_PARAMS,
        responses: ok({ type: "object" }),
      }),
    };
  return paths;
}

function buildDocument(group: string, version: string): object | null {
  const resources = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (resources.length === 0) return null;
  const schemas: Record<string, Schema> = {};
  const used = new Set<string>();
  let paths: Record<string, Schema> = {};
  for (const r of resources) {
    const root = KIND_ROOTS[r.kind];
    const def = root
      ? structDefinition(r.kind, root, used)
      : { type: "object", "x-kubernetes-preserve-unknown-fields": true };
    def["x-kubernetes-group-version-kind"] = [gvk(r)];
    schemas[definitionName(r.kind)] = def;
    paths = { ...paths, ...operations(r) };
  }
  // every struct reachable from the kinds, transitively
  const done = new Set<string>();
  for (
    let pending = [...used];
    pending.length > 0;
    pending = [...used].filter((n) => !done.has(n))
  ) {
    for (const name of pending) {
      done.add(name);
      const fields = STRUCTS[name];
      if (fields) schemas[definitionName(name)] = structDefinition(name, fields, used);
    }
  }
  if (JSON.stringify(schemas).includes(INT_OR_STRING))
    schemas[INT_OR_STRING] = {
      type: "string",
      format: "int-or-string",
      description: "IntOrString is a type that can hold an int32 or a string.",
    };
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: "v1.32.0" },
    paths,
    components: { schemas },
  };
}

const documents = new Map<string, { doc: object; hash: string }>();

function cached(group: string, version: string): { doc: object; hash: string } | null {
  const key = `${group}/${version}`;
  let entry = documents.get(key);
  if (entry === undefined) {
    const doc = buildDocument(group, version);
    if (doc === null) return null;
    const hash = createHash("sha512").update(JSON.stringify(doc)).digest("hex").slice(0, 128);
    entry = { doc, hash };
    documents.set(key, entry);
  }
  return entry;
}

/** `/openapi/v3`: one entry per served group version (`api/v1`, `apis/apps/v1`, …). */
export function openApiV3Paths(): { paths: Record<string, { serverRelativeURL: string }> } {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const r of RESOURCES) {
    const key = r.group === "" ? `api/${r.version}` : `apis/${apiVersionOf(r)}`;
    if (key in paths) continue;
    const entry = cached(r.group, r.version);
    if (entry) paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${entry.hash}` };
  }
  return { paths };
}

/** The document of one group version, or null when bosun does not serve it. */
export function openApiV3Document(group: string, version: string): object | null {
  return cached(group, version)?.doc ?? null;
}
