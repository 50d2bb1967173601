/**
 * PriorityClass (`scheduling.k8s.io/v1`) and pod priority, as Kubernetes has them:
 * - validation (`pkg/apis/scheduling/validation`): a user class's value is at most
 *   HIGHEST_USER_DEFINABLE_PRIORITY; the `system-` prefix is reserved for the system classes;
 *   `preemptionPolicy` is `PreemptLowerPriority` or `Never`; value and policy never change;
 * - the system classes the API server creates at start (`system-cluster-critical`,
 *   `system-node-critical`), as kube-apiserver's `scheduling/bootstrap-system-priority-classes`;
 * - the Priority admission plugin (`plugin/pkg/admission/priority`): a new pod's
 *   `priorityClassName` is resolved to `spec.priority` and `spec.preemptionPolicy` (a pod
 *   without one gets the `globalDefault` class's, or 0); a class that does not exist, or a
 *   priority that disagrees with the class, is refused; at most one class is the global default.
 * Pure: the caller looks the classes up.
 */
import { type FieldError, forbidden, invalid, notSupported, required } from "./field-error.ts";
import { asObject, asString, type JsonObject } from "./json.ts";
import { validateImmutable } from "./object-meta.ts";

/** `scheduling.HighestUserDefinablePriority`: above it, only system classes. */
export const HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000;
/** `scheduling.SystemCriticalPriority`. */
export const SYSTEM_CRITICAL_PRIORITY = 2 * HIGHEST_USER_DEFINABLE_PRIORITY;
export const SYSTEM_PRIORITY_CLASS_PREFIX = "system-";
export const PREEMPTION_POLICIES = ["PreemptLowerPriority", "Never"] as const;
export type PreemptionPolicy = (typeof PREEMPTION_POLICIES)[number];
/** A pod's priority when no class applies (`scheduling.DefaultPriorityWhenNoDefaultClassExists`). */
export const DEFAULT_POD_PRIORITY = 0;

export const SYSTEM_PRIORITY_CLASSES: readonly JsonObject[] = [
  {
    apiVersion: "scheduling.k8s.io/v1",
    kind: "PriorityClass",
    metadata: { name: "system-node-critical" },
    value: SYSTEM_CRITICAL_PRIORITY + 1000,
    description: "Used for system critical pods that must not be moved from their current node.",
    preemptionPolicy: "PreemptLowerPriority",
  },
  {
    apiVersion: "scheduling.k8s.io/v1",
    kind: "PriorityClass",
    metadata: { name: "system-cluster-critical" },
    value: SYSTEM_CRITICAL_PRIORITY,
    description:
      "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    preemptionPolicy: "PreemptLowerPriority",
  },
];

function isSystemClass(name: string): JsonObject | undefined {
  return SYSTEM_PRIORITY_CLASSES.find((c) => asString(asObject(c.metadata).name) === name);
}

export function validatePriorityClass(pc: JsonObject): FieldError[] {
  const errors: FieldError[] = [];
  const name = asString(asObject(pc.metadata).name);
  const system = isSystemClass(name);
  if (name.startsWith(SYSTEM_PRIORITY_CLASS_PREFIX) && system === undefined)
    errors.push(
      forbidden(
        "metadata.name",
        `priority class names with '${SYSTEM_PRIORITY_CLASS_PREFIX}' prefix are reserved for system use only`,
      ),
    );
  const value = pc.value;
  if (value === undefined || value === null) errors.push(required("value"));
  else if (typeof value !== "number" || !Number.isInteger(value))
    errors.push(invalid("value", value, "must be an integer"));
  else if (system !== undefined) {
    if (value !== system.value)
      errors.push(invalid("value", value, `must be ${String(system.value)} for ${name}`));
  } else if (value > HIGHEST_USER_DEFINABLE_PRIORITY)
    errors.push(
      forbidden(
        "value",
        `maximum allowed value of a user defined priority is ${HIGHEST_USER_DEFINABLE_PRIORITY}`,
      ),
    );
  const policy = pc.preemptionPolicy;
  if (policy !== undefined && !PREEMPTION_POLICIES.includes(policy as PreemptionPolicy))
    errors.push(notSupported("preemptionPolicy", policy, PREEMPTION_POLICIES));
  if (pc.globalDefault !== undefined && typeof pc.globalDefault !== "boolean")
    errors.push(invalid("globalDefault", pc.globalDefault, "must be true or false"));
  return errors;
}

export function validatePriorityClassUpdate(pc: JsonObject, old: JsonObject): FieldError[] {
  return [
    ...validateImmutable(pc.value, old.value, "value"),
    ...validateImmutable(pc.preemptionPolicy, old.preemptionPolicy, "preemptionPolicy"),
  ];
}

/** Why a PriorityClass may not be created or updated as given (only one global default). */
export function globalDefaultConflict(
  pc: JsonObject,
  existing: readonly JsonObject[],
): string | null {
  if (pc.globalDefault !== true) return null;
  const name = asString(asObject(pc.metadata).name);
  const other = existing.find(
    (c) => c.globalDefault === true && asString(asObject(c.metadata).name) !== name,
  );
  return other === undefined
    ? null
    : `PriorityClass ${asString(asObject(other.metadata).name)} is already marked as default. Only one default can exist`;
}

/** The global default class (the lowest-valued if several slipped in, as kube picks), if any. */
export function globalDefaultClass(classes: readonly JsonObject[]): JsonObject | undefined {
  let best: JsonObject | undefined;
  for (const c of classes)
    if (c.globalDefault === true && (best === undefined || Number(c.value) < Number(best.value)))
      best = c;
  return best;
}

export type PriorityAdmission =
  | { ok: true; pod: JsonObject }
  | { ok: false; notFound: boolean; message: string };

/**
 * The Priority admission plugin on a new pod: `className`'s class (null: no such class), or with
 * no `priorityClassName` the `globalDefault` one (undefined: none).
 */
export function admitPodPriority(
  pod: JsonObject,
  pc: JsonObject | null | undefined,
): PriorityAdmission {
  const spec = asObject(pod.spec);
  const className = asString(spec.priorityClassName);
  if (className !== "" && pc === null)
    return {
      ok: false,
      notFound: true,
      message: `no PriorityClass with name ${className} was found`,
    };
  const priority = pc ? Number(pc.value) : DEFAULT_POD_PRIORITY;
  const policy = pc
    ? asString(pc.preemptionPolicy) || "PreemptLowerPriority"
    : "PreemptLowerPriority";
  if (typeof spec.priority === "number" && spec.priority !== priority)
    return {
      ok: false,
      notFound: false,
      message: `the integer value of priority (${spec.priority}) must not be provided in pod spec; priority admission controller computed ${priority} from the given PriorityClass name`,
    };
  if (typeof spec.preemptionPolicy === "string" && spec.preemptionPolicy !== policy)
    return {
      ok: false,
      notFound: false,
      message: `the string value of PreemptionPolicy (${spec.preemptionPolicy}) must not be provided in pod spec; priority admission controller computed ${policy} from the given PriorityClass name`,
    };
  const admitted: JsonObject = { ...spec, priority, preemptionPolicy: policy };
  if (pc) admitted.priorityClassName = asString(asObject(pc.metadata).name);
  return { ok: true, pod: { ...pod, spec: admitted } };
}
