/**
 * Validation on create and update, returning Kubernetes-style field errors (see
 * `pkg/apis/core/validation/validation.go` and `pkg/apis/apps/validation`). Covered: object
 * meta for every kind, and the rules users hit most for pods (containers, ports, env, volumes,
 * policies), services (ports, type, clusterIP immutability), deployments and replicasets
 * (selector, template labels, strategy), configmaps/secrets (keys), namespaces.
 */
import {
  child,
  duplicate,
  type FieldError,
  forbidden,
  index,
  invalid,
  notFound,
  notSupported,
  required,
  tooLong,
} from "./field-error.ts";
import { validateCronJob, validateJob, validateJobUpdate } from "./job.ts";
import {
  asArray,
  asObject,
  isJsonObject,
  type JsonObject,
  type JsonValue,
  jsonEqual,
} from "./json.ts";
import { fromLabelSelectorObject, type LabelSelectorObject, matches } from "./label-selector.ts";
import {
  isConfigMapKey,
  isDns1123Label,
  isDns1123Subdomain,
  isEnvVarName,
  isValidPortName,
  isValidPortNum,
} from "./name-rules.ts";
import {
  validateImmutable,
  validateLabels,
  validateObjectMeta,
  validateObjectMetaUpdate,
} from "./object-meta.ts";
import {
  validatePersistentVolume,
  validatePersistentVolumeClaim,
  validateStorageClass,
} from "./persistent-volumes.ts";
import { validatePodDisruptionBudgetSpec } from "./pod-disruption-budget.ts";
import { validatePriorityClass, validatePriorityClassUpdate } from "./priority-class.ts";
import { validateRbacObject, validateRbacUpdate } from "./rbac-validation.ts";
import { resourceByKind } from "./resources.ts";

/** `MaxSecretSize` / ConfigMap total size: 1 MiB of data. */
export const MAX_CONFIG_DATA_BYTES = 1024 * 1024;

const RESTART_POLICIES = ["Always", "OnFailure", "Never"];
const DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
const PULL_POLICIES = ["Always", "IfNotPresent", "Never"];
const PROTOCOLS = ["SCTP", "TCP", "UDP"];
const SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const SESSION_AFFINITIES = ["ClientIP", "None"];
const DEPLOYMENT_STRATEGIES = ["Recreate", "RollingUpdate"];

const str = (v: JsonValue | undefined): string => (typeof v === "string" ? v : "");

function nonNegative(value: JsonValue | undefined, path: string): FieldError[] {
  return typeof value === "number" && value < 0
    ? [invalid(path, value, "must be greater than or equal to 0")]
    : [];
}

// ---------------------------------------------------------------------------------------------
// Pods
// ---------------------------------------------------------------------------------------------

function validateContainers(
  list: JsonValue | undefined,
  path: string,
  volumes: ReadonlySet<string>,
  requireOne: boolean,
): FieldError[] {
  const errs: FieldError[] = [];
  const containers = asArray(list);
  if (requireOne && containers.length === 0) errs.push(required(path, ""));
  const names = new Set<string>();
  containers.forEach((raw, i) => {
    const c = asObject(raw);
    const p = index(path, i);
    const name = str(c.name);
    if (name === "") errs.push(required(child(p, "name"), ""));
    else {
      for (const m of isDns1123Label(name)) errs.push(invalid(child(p, "name"), name, m));
      if (names.has(name)) errs.push(duplicate(child(p, "name"), name));
      names.add(name);
    }
    if (str(c.image).trim() === "") errs.push(required(child(p, "image"), ""));
    if (c.imagePullPolicy !== undefined && !PULL_POLICIES.includes(str(c.imagePullPolicy)))
      errs.push(notSupported(child(p, "imagePullPolicy"), c.imagePullPolicy, PULL_POLICIES));
    const portNames = new Set<string>();
    asArray(c.ports).forEach((rawPort, j) => {
      const port = asObject(rawPort);
      const pp = index(child(p, "ports"), j);
      if (port.name !== undefined && port.name !== "") {
        const pn = str(port.name);
        for (const m of isValidPortName(pn)) errs.push(invalid(child(pp, "name"), pn, m));
        if (portNames.has(pn)) errs.push(duplicate(child(pp, "name"), pn));
        portNames.add(pn);
      }
      if (port.containerPort === undefined || port.containerPort === 0)
        errs.push(required(child(pp, "containerPort"), ""));
      else
        for (const m of isValidPortNum(Number(port.containerPort)))
          errs.push(invalid(child(pp, "containerPort"), port.containerPort, m));
      if (port.hostPort !== undefined && port.hostPort !== 0)
        for (const m of isValidPortNum(Number(port.hostPort)))
          errs.push(invalid(child(pp, "hostPort"), port.hostPort, m));
      if (port.protocol !== undefined && !PROTOCOLS.includes(str(port.protocol)))
        errs.push(notSupported(child(pp, "protocol"), port.protocol, PROTOCOLS));
    });
    asArray(c.env).forEach((rawEnv, j) => {
      const e = asObject(rawEnv);
      const ep = index(child(p, "env"), j);
      const en = str(e.name);
      if (en === "") errs.push(required(child(ep, "name"), ""));
      else for (const m of isEnvVarName(en)) errs.push(invalid(child(ep, "name"), en, m));
      if (e.value !== undefined && e.value !== "" && e.valueFrom !== undefined)
        errs.push(
          invalid(child(ep, "valueFrom"), "", "may not be specified when `value` is not empty"),
        );
    });
    const mountPaths = new Set<string>();
    asArray(c.volumeMounts).forEach((rawMount, j) => {
      const vm = asObject(rawMount);
      const mp = index(child(p, "volumeMounts"), j);
      const vn = str(vm.name);
      if (vn === "") errs.push(required(child(mp, "name"), ""));
      else if (!volumes.has(vn)) errs.push(notFound(child(mp, "name"), vn));
      const mountPath = str(vm.mountPath);
      if (mountPath === "") errs.push(required(child(mp, "mountPath"), ""));
      else if (mountPaths.has(mountPath))
        errs.push(invalid(child(mp, "mountPath"), mountPath, "must be unique"));
      mountPaths.add(mountPath);
    });
  });
  return errs;
}

export function validatePodSpec(specValue: JsonValue | undefined, path: string): FieldError[] {
  const spec = asObject(specValue);
  const errs: FieldError[] = [];
  const volumes = new Set<string>();
  asArray(spec.volumes).forEach((rawVol, i) => {
    const v = asObject(rawVol);
    const vp = index(child(path, "volumes"), i);
    const name = str(v.name);
    if (name === "") errs.push(required(child(vp, "name"), ""));
    else {
      for (const m of isDns1123Label(name)) errs.push(invalid(child(vp, "name"), name, m));
      if (volumes.has(name)) errs.push(duplicate(child(vp, "name"), name));
      volumes.add(name);
    }
  });
  errs.push(...validateContainers(spec.containers, child(path, "containers"), volumes, true));
  errs.push(
    ...validateContainers(spec.initContainers, child(path, "initContainers"), volumes, false),
  );
  asArray(spec.initContainers).forEach((c, i) => {
    const n = str(asObject(c).name);
    if (n !== "" && asArray(spec.containers).some((x) => str(asObject(x).name) === n))
      errs.push(duplicate(child(index(child(path, "initContainers"), i), "name"), n));
  });
  if (spec.restartPolicy !== undefined && !RESTART_POLICIES.includes(str(spec.restartPolicy)))
    errs.push(notSupported(child(path, "restartPolicy"), spec.restartPolicy, RESTART_POLICIES));
  if (spec.dnsPolicy !== undefined && !DNS_POLICIES.includes(str(spec.dnsPolicy)))
    errs.push(notSupported(child(path, "dnsPolicy"), spec.dnsPolicy, DNS_POLICIES));
  errs.push(
    ...nonNegative(
      spec.terminationGracePeriodSeconds,
      child(path, "terminationGracePeriodSeconds"),
    ),
  );
  if (
    typeof spec.activeDeadlineSeconds === "number" &&
    (spec.activeDeadlineSeconds < 1 || spec.activeDeadlineSeconds > 2147483647)
  )
    errs.push(
      invalid(
        child(path, "activeDeadlineSeconds"),
        spec.activeDeadlineSeconds,
        "must be between 1 and 2147483647, inclusive",
      ),
    );
  if (spec.nodeSelector !== undefined)
    errs.push(...validateLabels(spec.nodeSelector, child(path, "nodeSelector")));
  if (spec.serviceAccountName !== undefined && spec.serviceAccountName !== "")
    for (const m of isDns1123Subdomain(str(spec.serviceAccountName)))
      errs.push(invalid(child(path, "serviceAccountName"), spec.serviceAccountName, m));
  return errs;
}

/** The detail of the Forbidden error for a disallowed pod spec change. */
export const POD_UPDATE_FORBIDDEN_DETAIL =
  "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

function validatePodUpdate(pod: JsonObject, old: JsonObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = asObject(pod.spec);
  const oldSpec = asObject(old.spec);
  // activeDeadlineSeconds may be set, or lowered, but never raised or removed.
  const ads = spec.activeDeadlineSeconds;
  const oldAds = oldSpec.activeDeadlineSeconds;
  if (typeof oldAds === "number" && (typeof ads !== "number" || ads > oldAds))
    errs.push(
      invalid(
        "spec.activeDeadlineSeconds",
        ads ?? null,
        "must be less than or equal to previous value",
      ),
    );
  // Tolerations may only be added to.
  const tolerations = asArray(spec.tolerations);
  for (const t of asArray(oldSpec.tolerations)) {
    if (!tolerations.some((x) => jsonEqual(x, t))) {
      errs.push(
        forbidden(
          "spec.tolerations",
          "existing toleration can not be modified except its tolerationSeconds",
        ),
      );
      break;
    }
  }
  // Compare everything else with the mutable fields masked out.
  const mask = (s: JsonObject): JsonObject => {
    const m: JsonObject = { ...s };
    delete m.activeDeadlineSeconds;
    delete m.tolerations;
    for (const k of ["containers", "initContainers"]) {
      if (Array.isArray(m[k]))
        m[k] = (m[k] as JsonValue[]).map((c) => (isJsonObject(c) ? { ...c, image: null } : c));
    }
    if (
      typeof oldSpec.terminationGracePeriodSeconds === "number" &&
      oldSpec.terminationGracePeriodSeconds < 0 &&
      s.terminationGracePeriodSeconds === 1
    )
      delete m.terminationGracePeriodSeconds;
    return m;
  };
  const maskedNew = mask(spec);
  const maskedOld = mask(oldSpec);
  if (
    typeof oldSpec.terminationGracePeriodSeconds === "number" &&
    oldSpec.terminationGracePeriodSeconds < 0
  )
    delete maskedOld.terminationGracePeriodSeconds;
  if (!jsonEqual(maskedNew, maskedOld)) errs.push(forbidden("spec", POD_UPDATE_FORBIDDEN_DETAIL));
  return errs;
}

// ---------------------------------------------------------------------------------------------
// Services
// ---------------------------------------------------------------------------------------------

function validateServiceSpec(specValue: JsonValue | undefined): FieldError[] {
  const spec = asObject(specValue);
  const errs: FieldError[] = [];
  const type = spec.type === undefined ? "ClusterIP" : str(spec.type);
  if (!SERVICE_TYPES.includes(type)) errs.push(notSupported("spec.type", spec.type, SERVICE_TYPES));
  const headless = spec.clusterIP === "None";
  const ports = asArray(spec.ports);
  if (ports.length === 0 && !headless && type !== "ExternalName")
    errs.push(required("spec.ports", ""));
  if (type === "ExternalName" && str(spec.externalName) === "")
    errs.push(required("spec.externalName", ""));
  const names = new Set<string>();
  const keys = new Set<string>();
  ports.forEach((raw, i) => {
    const p = asObject(raw);
    const pp = index("spec.ports", i);
    const name = str(p.name);
    if (ports.length > 1 && name === "") errs.push(required(child(pp, "name"), ""));
    if (name !== "") {
      for (const m of isDns1123Label(name)) errs.push(invalid(child(pp, "name"), name, m));
      if (names.has(name)) errs.push(duplicate(child(pp, "name"), name));
      names.add(name);
    }
    if (p.port === undefined) errs.push(required(child(pp, "port"), ""));
    else
      for (const m of isValidPortNum(Number(p.port)))
        errs.push(invalid(child(pp, "port"), p.port, m));
    const protocol = p.protocol === undefined ? "TCP" : str(p.protocol);
    if (!PROTOCOLS.includes(protocol))
      errs.push(notSupported(child(pp, "protocol"), p.protocol, PROTOCOLS));
    const k = `${String(p.port)}/${protocol}`;
    if (keys.has(k)) errs.push(duplicate(pp, { port: p.port ?? null, protocol }));
    keys.add(k);
    if (typeof p.targetPort === "number")
      for (const m of isValidPortNum(p.targetPort))
        errs.push(invalid(child(pp, "targetPort"), p.targetPort, m));
    if (p.nodePort !== undefined && p.nodePort !== 0) {
      if (type !== "NodePort" && type !== "LoadBalancer")
        errs.push(forbidden(child(pp, "nodePort"), "may not be used when `type` is 'ClusterIP'"));
      else
        for (const m of isValidPortNum(Number(p.nodePort)))
          errs.push(invalid(child(pp, "nodePort"), p.nodePort, m));
    }
  });
  if (spec.sessionAffinity !== undefined && !SESSION_AFFINITIES.includes(str(spec.sessionAffinity)))
    errs.push(notSupported("spec.sessionAffinity", spec.sessionAffinity, SESSION_AFFINITIES));
  if (spec.selector !== undefined) errs.push(...validateLabels(spec.selector, "spec.selector"));
  return errs;
}

function validateServiceUpdate(svc: JsonObject, old: JsonObject): FieldError[] {
  const spec = asObject(svc.spec);
  const oldSpec = asObject(old.spec);
  const oldIP = str(oldSpec.clusterIP);
  // Once allocated, the cluster IP stays (unless the service becomes ExternalName).
  if (oldIP !== "" && spec.type !== "ExternalName" && str(spec.clusterIP) !== oldIP)
    return [invalid("spec.clusterIP", spec.clusterIP ?? "", "field is immutable")];
  return [];
}

// ---------------------------------------------------------------------------------------------
// Deployments and ReplicaSets
// ---------------------------------------------------------------------------------------------

function validateSelectorAndTemplate(
  specValue: JsonValue | undefined,
  kindName: string,
): FieldError[] {
  const spec = asObject(specValue);
  const errs: FieldError[] = [];
  errs.push(...nonNegative(spec.replicas, "spec.replicas"));
  errs.push(...nonNegative(spec.minReadySeconds, "spec.minReadySeconds"));
  const selectorValue = spec.selector;
  if (!isJsonObject(selectorValue)) {
    errs.push(required("spec.selector", ""));
  } else {
    const sel = selectorValue as unknown as LabelSelectorObject;
    const empty =
      Object.keys(sel.matchLabels ?? {}).length + (sel.matchExpressions ?? []).length === 0;
    if (empty)
      errs.push(
        invalid("spec.selector", selectorValue, `empty selector is invalid for ${kindName}`),
      );
    else {
      try {
        const selector = fromLabelSelectorObject(sel);
        const template = asObject(spec.template);
        const labels = asObject(asObject(template.metadata).labels) as Record<string, string>;
        if (!matches(selector, labels))
          errs.push(
            invalid(
              "spec.template.metadata.labels",
              labels,
              "`selector` does not match template `labels`",
            ),
          );
      } catch (e) {
        errs.push(invalid("spec.selector", selectorValue, (e as Error).message));
      }
    }
  }
  const template = spec.template;
  if (!isJsonObject(template)) {
    errs.push(required("spec.template", ""));
    return errs;
  }
  errs.push(...validateLabels(asObject(template.metadata).labels, "spec.template.metadata.labels"));
  const podSpec = asObject(template.spec);
  errs.push(...validatePodSpec(podSpec, "spec.template.spec"));
  if (podSpec.restartPolicy !== undefined && podSpec.restartPolicy !== "Always")
    errs.push(notSupported("spec.template.spec.restartPolicy", podSpec.restartPolicy, ["Always"]));
  if (podSpec.activeDeadlineSeconds !== undefined)
    errs.push(
      forbidden(
        "spec.template.spec.activeDeadlineSeconds",
        "activeDeadlineSeconds in ReplicaSet is not Supported",
      ),
    );
  return errs;
}

function validateDeploymentSpec(specValue: JsonValue | undefined): FieldError[] {
  const spec = asObject(specValue);
  const errs = validateSelectorAndTemplate(spec, "deployment");
  const strategy = asObject(spec.strategy);
  if (strategy.type !== undefined && !DEPLOYMENT_STRATEGIES.includes(str(strategy.type)))
    errs.push(notSupported("spec.strategy.type", strategy.type, DEPLOYMENT_STRATEGIES));
  if (strategy.type === "Recreate" && strategy.rollingUpdate !== undefined)
    errs.push(
      forbidden(
        "spec.strategy.rollingUpdate",
        "may not be specified when strategy `type` is 'Recreate'",
      ),
    );
  errs.push(...nonNegative(spec.revisionHistoryLimit, "spec.revisionHistoryLimit"));
  if (
    typeof spec.progressDeadlineSeconds === "number" &&
    typeof spec.minReadySeconds === "number" &&
    spec.progressDeadlineSeconds <= spec.minReadySeconds
  )
    errs.push(
      invalid(
        "spec.progressDeadlineSeconds",
        spec.progressDeadlineSeconds,
        "must be greater than minReadySeconds",
      ),
    );
  return errs;
}

// ---------------------------------------------------------------------------------------------
// ConfigMaps and Secrets
// ---------------------------------------------------------------------------------------------

function validateDataKeys(obj: JsonObject, fields: string[]): FieldError[] {
  const errs: FieldError[] = [];
  let total = 0;
  const seen = new Set<string>();
  for (const f of fields) {
    for (const [k, v] of Object.entries(asObject(obj[f]))) {
      for (const m of isConfigMapKey(k)) errs.push(invalid(`${f}[${k}]`, k, m));
      if (seen.has(k) && f === "binaryData")
        errs.push(invalid(`${f}[${k}]`, k, "duplicate of key present in data"));
      seen.add(k);
      total += typeof v === "string" ? v.length : 0;
    }
  }
  if (total > MAX_CONFIG_DATA_BYTES) errs.push(tooLong("data", MAX_CONFIG_DATA_BYTES));
  return errs;
}

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

function metaRules(kind: string) {
  const r = resourceByKind(kind);
  return {
    namespaced: r?.namespaced ?? true,
    nameRule: r?.nameRule ?? ("dns1123Subdomain" as const),
  };
}

function validateKindSpecific(kind: string, obj: JsonObject): FieldError[] {
  switch (kind) {
    case "Pod":
      return validatePodSpec(obj.spec, "spec");
    case "Service":
      return validateServiceSpec(obj.spec);
    case "Deployment":
      return validateDeploymentSpec(obj.spec);
    case "ReplicaSet":
      return validateSelectorAndTemplate(obj.spec, "replicaset");
    case "ConfigMap":
      return validateDataKeys(obj, ["data", "binaryData"]);
    case "Secret":
      return validateDataKeys(obj, ["data", "stringData"]);
    case "PriorityClass":
      return validatePriorityClass(obj);
    case "PodDisruptionBudget":
      return validatePodDisruptionBudgetSpec(obj.spec);
    case "Job":
      return validateJob(obj);
    case "CronJob":
      return validateCronJob(obj);
    case "PersistentVolume":
      return validatePersistentVolume(obj);
    case "PersistentVolumeClaim":
      return validatePersistentVolumeClaim(obj);
    case "StorageClass":
      return validateStorageClass(obj);
    case "Role":
    case "ClusterRole":
    case "RoleBinding":
    case "ClusterRoleBinding":
      return validateRbacObject(kind, obj);
    default:
      return [];
  }
}

/** Validation of a new object (after defaulting). */
export function validateCreate(kind: string, obj: JsonObject): FieldError[] {
  return [...validateObjectMeta(obj.metadata, metaRules(kind)), ...validateKindSpecific(kind, obj)];
}

/** Validation of an update (after defaulting): the create rules plus what may not change. */
export function validateUpdate(kind: string, obj: JsonObject, old: JsonObject): FieldError[] {
  const errs = [
    ...validateObjectMetaUpdate(obj.metadata, old.metadata, metaRules(kind)),
    ...validateKindSpecific(kind, obj),
  ];
  switch (kind) {
    case "Pod":
      errs.push(...validatePodUpdate(obj, old));
      break;
    case "Service":
      errs.push(...validateServiceUpdate(obj, old));
      break;
    case "Deployment":
    case "ReplicaSet":
      errs.push(
        ...validateImmutable(
          asObject(obj.spec).selector,
          asObject(old.spec).selector,
          "spec.selector",
        ),
      );
      break;
    case "Secret":
      if (old.immutable === true && !jsonEqual(obj.data ?? null, old.data ?? null))
        errs.push(forbidden("data", "field is immutable when `immutable` is set"));
      errs.push(...validateImmutable(obj.type, old.type, "type"));
      break;
    case "ConfigMap":
      if (old.immutable === true && !jsonEqual(obj.data ?? null, old.data ?? null))
        errs.push(forbidden("data", "field is immutable when `immutable` is set"));
      break;
    case "PriorityClass":
      errs.push(...validatePriorityClassUpdate(obj, old));
      break;
    case "Job":
      errs.push(...validateJobUpdate(obj, old));
      break;
    case "RoleBinding":
    case "ClusterRoleBinding":
      errs.push(...validateRbacUpdate(kind, obj, old));
      break;
  }
  return errs;
}
