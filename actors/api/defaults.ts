/**
 * Defaulting on create, as the API server does it from the versioned types' defaulters
 * (k8s.io/kubernetes `pkg/apis/core/v1/defaults.go`, `pkg/apis/apps/v1/defaults.go`) plus the
 * registry strategies' `PrepareForCreate` (pod status phase and QoS class, namespace phase).
 * Returns a new object; fields the client set are kept.
 */
import { defaultCronJob, defaultJob } from "./job.ts";
import { asArray, isJsonObject, type JsonObject, type JsonValue, jsonClone } from "./json.ts";
import {
  defaultPersistentVolume,
  defaultPersistentVolumeClaim,
  defaultStorageClass,
} from "./persistent-volumes.ts";

function ensureObject(parent: JsonObject, key: string): JsonObject {
  const v = parent[key];
  if (isJsonObject(v)) return v;
  const created: JsonObject = {};
  parent[key] = created;
  return created;
}

export function setDefault(obj: JsonObject, key: string, value: JsonValue): void {
  if (obj[key] === undefined || obj[key] === null) obj[key] = value;
}

/** `SetDefaults_Container`: pull policy Always for `:latest` or untagged images. */
export function defaultImagePullPolicy(image: string): "Always" | "IfNotPresent" {
  if (image.includes("@")) return "IfNotPresent";
  const lastSlash = image.lastIndexOf("/");
  const colon = image.lastIndexOf(":");
  const tag = colon > lastSlash ? image.slice(colon + 1) : "";
  return tag === "" || tag === "latest" ? "Always" : "IfNotPresent";
}

function defaultProbe(probe: JsonValue | undefined): void {
  if (!isJsonObject(probe)) return;
  setDefault(probe, "timeoutSeconds", 1);
  setDefault(probe, "periodSeconds", 10);
  setDefault(probe, "successThreshold", 1);
  setDefault(probe, "failureThreshold", 3);
  if (isJsonObject(probe.httpGet)) setDefault(probe.httpGet, "scheme", "HTTP");
}

function defaultContainer(c: JsonValue): void {
  if (!isJsonObject(c)) return;
  if (typeof c.image === "string")
    setDefault(c, "imagePullPolicy", defaultImagePullPolicy(c.image));
  setDefault(c, "terminationMessagePath", "/dev/termination-log");
  setDefault(c, "terminationMessagePolicy", "File");
  setDefault(c, "resources", {});
  for (const p of asArray(c.ports)) if (isJsonObject(p)) setDefault(p, "protocol", "TCP");
  for (const e of asArray(c.env)) {
    if (isJsonObject(e) && isJsonObject(e.valueFrom) && isJsonObject(e.valueFrom.fieldRef))
      setDefault(e.valueFrom.fieldRef, "apiVersion", "v1");
  }
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
}

function defaultVolume(v: JsonValue): void {
  if (!isJsonObject(v)) return;
  for (const source of ["secret", "configMap", "downwardAPI", "projected"]) {
    const s = v[source];
    if (isJsonObject(s)) setDefault(s, "defaultMode", 420);
  }
  if (isJsonObject(v.hostPath)) setDefault(v.hostPath, "type", "");
  const hasSource = Object.keys(v).some((k) => k !== "name");
  // A volume without a source is an emptyDir (SetDefaults_Volume).
  if (!hasSource) v.emptyDir = {};
}

/** Pod spec defaults (also applied to the templates of Deployments and ReplicaSets). */
export function defaultPodSpec(spec: JsonObject): void {
  setDefault(spec, "restartPolicy", "Always");
  setDefault(spec, "dnsPolicy", "ClusterFirst");
  setDefault(spec, "terminationGracePeriodSeconds", 30);
  setDefault(spec, "schedulerName", "default-scheduler");
  setDefault(spec, "securityContext", {});
  setDefault(spec, "enableServiceLinks", true);
  if (spec.hostNetwork === true) {
    for (const c of asArray(spec.containers))
      for (const p of asArray(isJsonObject(c) ? c.ports : undefined))
        if (isJsonObject(p) && p.hostPort === undefined) p.hostPort = p.containerPort ?? null;
  }
  for (const c of asArray(spec.initContainers)) defaultContainer(c);
  for (const c of asArray(spec.containers)) defaultContainer(c);
  for (const c of asArray(spec.ephemeralContainers)) defaultContainer(c);
  for (const v of asArray(spec.volumes)) defaultVolume(v);
}

function hasResources(c: JsonValue, kind: "requests" | "limits"): boolean {
  if (!isJsonObject(c) || !isJsonObject(c.resources)) return false;
  const r = c.resources[kind];
  return isJsonObject(r) && Object.keys(r).length > 0;
}

/**
 * `qos.GetPodQOS`, simplified to the common cases: no requests or limits anywhere is
 * BestEffort; cpu and memory limits on every container with requests equal to them (or
 * unset) is Guaranteed; anything else is Burstable.
 */
export function podQosClass(spec: JsonObject): "BestEffort" | "Burstable" | "Guaranteed" {
  const containers = [...asArray(spec.initContainers), ...asArray(spec.containers)];
  if (!containers.some((c) => hasResources(c, "requests") || hasResources(c, "limits")))
    return "BestEffort";
  const guaranteed = containers.every((c) => {
    if (!isJsonObject(c) || !isJsonObject(c.resources)) return false;
    const limits = isJsonObject(c.resources.limits) ? c.resources.limits : {};
    const requests = isJsonObject(c.resources.requests) ? c.resources.requests : {};
    return ["cpu", "memory"].every(
      (r) =>
        limits[r] !== undefined &&
        (requests[r] === undefined || String(requests[r]) === String(limits[r])),
    );
  });
  return guaranteed ? "Guaranteed" : "Burstable";
}

function defaultPod(pod: JsonObject): void {
  const spec = ensureObject(pod, "spec");
  defaultPodSpec(spec);
  // Registry PrepareForCreate: status is reset to Pending with the computed QoS class.
  pod.status = { phase: "Pending", qosClass: podQosClass(spec) };
}

function defaultService(svc: JsonObject): void {
  const spec = ensureObject(svc, "spec");
  setDefault(spec, "type", "ClusterIP");
  setDefault(spec, "sessionAffinity", "None");
  if (spec.type !== "ExternalName") {
    setDefault(spec, "internalTrafficPolicy", "Cluster");
    setDefault(spec, "ipFamilyPolicy", "SingleStack");
  }
  if (spec.type === "NodePort" || spec.type === "LoadBalancer")
    setDefault(spec, "externalTrafficPolicy", "Cluster");
  if (spec.type === "LoadBalancer") setDefault(spec, "allocateLoadBalancerNodePorts", true);
  if (spec.sessionAffinity === "ClientIP") {
    const cfg = ensureObject(spec, "sessionAffinityConfig");
    const clientIP = ensureObject(cfg, "clientIP");
    setDefault(clientIP, "timeoutSeconds", 10800);
  }
  for (const p of asArray(spec.ports)) {
    if (!isJsonObject(p)) continue;
    setDefault(p, "protocol", "TCP");
    // targetPort defaults to the port's own number.
    if (
      p.targetPort === undefined ||
      p.targetPort === null ||
      p.targetPort === 0 ||
      p.targetPort === ""
    )
      p.targetPort = p.port ?? null;
  }
  svc.status = isJsonObject(svc.status) ? svc.status : { loadBalancer: {} };
}

export function defaultTemplate(spec: JsonObject): void {
  const template = ensureObject(spec, "template");
  defaultPodSpec(ensureObject(template, "spec"));
}

function defaultDeployment(d: JsonObject): void {
  const spec = ensureObject(d, "spec");
  setDefault(spec, "replicas", 1);
  const strategy = ensureObject(spec, "strategy");
  setDefault(strategy, "type", "RollingUpdate");
  if (strategy.type === "RollingUpdate") {
    const ru = ensureObject(strategy, "rollingUpdate");
    setDefault(ru, "maxUnavailable", "25%");
    setDefault(ru, "maxSurge", "25%");
  }
  setDefault(spec, "revisionHistoryLimit", 10);
  setDefault(spec, "progressDeadlineSeconds", 600);
  defaultTemplate(spec);
}

function defaultReplicaSet(rs: JsonObject): void {
  const spec = ensureObject(rs, "spec");
  setDefault(spec, "replicas", 1);
  defaultTemplate(spec);
}

function defaultNamespace(ns: JsonObject): void {
  const meta = ensureObject(ns, "metadata");
  // Namespaces always carry their own name as a label (SetDefaults_Namespace).
  if (typeof meta.name === "string") {
    const labels = ensureObject(meta, "labels");
    labels["kubernetes.io/metadata.name"] = meta.name;
  }
  const spec = ensureObject(ns, "spec");
  setDefault(spec, "finalizers", ["kubernetes"]);
  ns.status = { phase: "Active" };
}

function defaultPortsProtocol(ports: JsonValue | undefined): void {
  for (const p of asArray(ports)) if (isJsonObject(p)) setDefault(p, "protocol", "TCP");
}

/** Applies the create-time defaults of `kind` to a copy of `object`. */
export function applyDefaults(kind: string, object: JsonObject): JsonObject {
  const obj = jsonClone(object);
  switch (kind) {
    case "Pod":
      defaultPod(obj);
      break;
    case "Service":
      defaultService(obj);
      break;
    case "Deployment":
      defaultDeployment(obj);
      break;
    case "ReplicaSet":
      defaultReplicaSet(obj);
      break;
    case "Namespace":
      defaultNamespace(obj);
      break;
    case "Secret":
      setDefault(obj, "type", "Opaque");
      break;
    case "Endpoints":
      for (const s of asArray(obj.subsets)) if (isJsonObject(s)) defaultPortsProtocol(s.ports);
      break;
    case "EndpointSlice":
      defaultPortsProtocol(obj.ports);
      break;
    case "PriorityClass":
      setDefault(obj, "preemptionPolicy", "PreemptLowerPriority");
      break;
    case "Job":
      defaultJob(obj);
      break;
    case "CronJob":
      defaultCronJob(obj);
      break;
    case "PersistentVolume":
      defaultPersistentVolume(obj);
      break;
    case "PersistentVolumeClaim":
      defaultPersistentVolumeClaim(obj);
      break;
    case "StorageClass":
      defaultStorageClass(obj);
      break;
  }
  return obj;
}
