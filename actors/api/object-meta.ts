/**
 * `metadata` rules shared by every kind, after apimachinery `pkg/api/validation/objectmeta.go`:
 * the name (per-resource rule), the namespace (required for namespaced kinds, forbidden for
 * cluster-scoped ones), labels, annotations (keys, and 256 KiB in total), finalizers, owner
 * references, and which fields may not change on update. Also the server-set fields on create.
 */
import {
  child,
  type FieldError,
  forbidden,
  index,
  invalid,
  required,
  tooLong,
} from "./field-error.ts";
import { asObject, isJsonObject, type JsonObject, type JsonValue, jsonEqual } from "./json.ts";
import {
  isDns1035Label,
  isDns1123Label,
  isDns1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
} from "./name-rules.ts";
import type { ResourceInfo } from "./resources.ts";

/** `TotalAnnotationSizeLimitB`: keys plus values of all annotations. */
export const TOTAL_ANNOTATION_SIZE_LIMIT_BYTES = 256 * 1024;

/** Characters `names.SimpleNameGenerator` draws the generateName suffix from. */
export const GENERATE_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
export const GENERATE_NAME_SUFFIX_LENGTH = 5;
const MAX_GENERATED_NAME_LENGTH = 63 - GENERATE_NAME_SUFFIX_LENGTH;

export type NameRule = ResourceInfo["nameRule"];

/** metav1.FinalizerOrphanDependents: the garbage collector orphans the dependents first. */
export const FINALIZER_ORPHAN_DEPENDENTS = "orphan";
/** metav1.FinalizerDeleteDependents: the garbage collector deletes the blocking dependents first. */
export const FINALIZER_DELETE_DEPENDENTS = "foregroundDeletion";

export function finalizersOf(meta: JsonValue | undefined): string[] {
  const f = asObject(meta).finalizers;
  return Array.isArray(f) ? f.map(String) : [];
}

export function nameErrors(rule: NameRule, name: string): string[] {
  switch (rule) {
    case "dns1123Label":
      return isDns1123Label(name);
    case "dns1035Label":
      return isDns1035Label(name);
    case "dns1123Subdomain":
      return isDns1123Subdomain(name);
    case "pathSegment":
      return pathSegmentNameErrors(name);
  }
}

/** RBAC's names (`system:node`): anything that can be a URL path segment (ValidatePathSegmentName). */
function pathSegmentNameErrors(name: string): string[] {
  if (name === "." || name === "..") return [`may not be '${name}'`];
  for (const bad of ["/", "%"]) if (name.includes(bad)) return [`may not contain '${bad}'`];
  return [];
}

/** generateName is validated as a prefix: a trailing '-' is allowed (`maskTrailingDash`). */
function maskTrailingDash(name: string): string {
  return name.length > 1 && name.endsWith("-") ? `${name.slice(0, -2)}a` : name;
}

export function validateLabels(labels: JsonValue | undefined, path: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(asObject(labels))) {
    for (const m of isQualifiedName(k)) errs.push(invalid(path, k, m));
    const value = typeof v === "string" ? v : String(v);
    for (const m of isValidLabelValue(value)) errs.push(invalid(path, value, m));
  }
  return errs;
}

export function validateAnnotations(
  annotations: JsonValue | undefined,
  path: string,
): FieldError[] {
  const errs: FieldError[] = [];
  let total = 0;
  for (const [k, v] of Object.entries(asObject(annotations))) {
    for (const m of isQualifiedName(k.toLowerCase())) errs.push(invalid(path, k, m));
    total += Buffer.byteLength(k) + Buffer.byteLength(typeof v === "string" ? v : String(v));
  }
  if (total > TOTAL_ANNOTATION_SIZE_LIMIT_BYTES)
    errs.push(tooLong(path, TOTAL_ANNOTATION_SIZE_LIMIT_BYTES));
  return errs;
}

export interface ObjectMetaRules {
  namespaced: boolean;
  nameRule: NameRule;
}

/** `ValidateObjectMeta` for a create. */
export function validateObjectMeta(
  meta: JsonValue | undefined,
  rules: ObjectMetaRules,
  path = "metadata",
): FieldError[] {
  const m = asObject(meta);
  const errs: FieldError[] = [];
  const name = typeof m.name === "string" ? m.name : "";
  const generateName = typeof m.generateName === "string" ? m.generateName : "";
  if (generateName !== "") {
    for (const msg of nameErrors(rules.nameRule, maskTrailingDash(generateName)))
      errs.push(invalid(child(path, "generateName"), generateName, msg));
  }
  if (name === "") {
    if (generateName === "")
      errs.push(required(child(path, "name"), "name or generateName is required"));
  } else {
    for (const msg of nameErrors(rules.nameRule, name))
      errs.push(invalid(child(path, "name"), name, msg));
  }
  const namespace = typeof m.namespace === "string" ? m.namespace : "";
  if (rules.namespaced) {
    if (namespace === "") errs.push(required(child(path, "namespace"), ""));
    else
      for (const msg of isDns1123Label(namespace))
        errs.push(invalid(child(path, "namespace"), namespace, msg));
  } else if (namespace !== "") {
    errs.push(forbidden(child(path, "namespace"), "not allowed on this type"));
  }
  if (typeof m.generation === "number" && m.generation < 0)
    errs.push(
      invalid(child(path, "generation"), m.generation, "must be greater than or equal to 0"),
    );
  errs.push(...validateLabels(m.labels, child(path, "labels")));
  errs.push(...validateAnnotations(m.annotations, child(path, "annotations")));
  const finalizers = finalizersOf(m);
  finalizers.forEach((s, i) => {
    for (const msg of isQualifiedName(s))
      errs.push(invalid(index(child(path, "finalizers"), i), s, msg));
  });
  if (
    finalizers.includes(FINALIZER_ORPHAN_DEPENDENTS) &&
    finalizers.includes(FINALIZER_DELETE_DEPENDENTS)
  )
    errs.push(
      invalid(
        child(path, "finalizers"),
        finalizers,
        `finalizer ${FINALIZER_ORPHAN_DEPENDENTS} and ${FINALIZER_DELETE_DEPENDENTS} cannot be both set`,
      ),
    );
  const owners = Array.isArray(m.ownerReferences) ? m.ownerReferences : [];
  owners.forEach((o, i) => {
    const p = index(child(path, "ownerReferences"), i);
    const ref = asObject(o);
    for (const f of ["apiVersion", "kind", "name", "uid"]) {
      if (typeof ref[f] !== "string" || ref[f] === "")
        errs.push(invalid(child(p, f), ref[f] ?? "", `${f} must not be empty`));
    }
  });
  const controllers = owners.filter((o) => isJsonObject(o) && o.controller === true);
  if (controllers.length > 1)
    errs.push(
      invalid(
        child(path, "ownerReferences"),
        owners,
        "Only one reference can have Controller set to true",
      ),
    );
  return errs;
}

/** `ValidateImmutableField`. */
export function validateImmutable(
  newValue: JsonValue | undefined,
  oldValue: JsonValue | undefined,
  path: string,
): FieldError[] {
  return jsonEqual(newValue ?? null, oldValue ?? null)
    ? []
    : [invalid(path, newValue ?? null, "field is immutable")];
}

/** `ValidateObjectMetaUpdate`: what may not change, plus the create rules on the new value. */
export function validateObjectMetaUpdate(
  newMeta: JsonValue | undefined,
  oldMeta: JsonValue | undefined,
  rules: ObjectMetaRules,
  path = "metadata",
): FieldError[] {
  const n = asObject(newMeta);
  const o = asObject(oldMeta);
  const errs = validateObjectMeta(n, rules, path);
  // Only a delete sets deletionTimestamp and deletionGracePeriodSeconds; no update moves them.
  for (const f of [
    "name",
    "namespace",
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
  ])
    errs.push(...validateImmutable(n[f], o[f], child(path, f)));
  if (typeof o.deletionTimestamp === "string" && o.deletionTimestamp !== "") {
    // ValidateNoNewFinalizers: an object on its way out can only lose finalizers
    const before = new Set(finalizersOf(o));
    const added = [...new Set(finalizersOf(n))].filter((f) => !before.has(f)).sort();
    if (added.length > 0)
      errs.push(
        forbidden(
          child(path, "finalizers"),
          `no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(", ")}}`,
        ),
      );
  }
  return errs;
}

export interface CreateMetaInput {
  uid: string;
  /** RFC 3339 seconds, e.g. `2024-01-02T03:04:05Z`. */
  creationTimestamp: string;
  /** Five characters from GENERATE_NAME_ALPHABET, used when only generateName is set. */
  generateNameSuffix?: string;
  /** Kinds that track spec changes start at generation 1. */
  tracksGeneration?: boolean;
}

/**
 * The fields the registry sets on create (`BeforeCreate` / `FillObjectMetaSystemFields`):
 * uid, creationTimestamp, name from generateName, generation; resourceVersion and selfLink
 * are cleared (the store assigns the former).
 */
export function initializeObjectMeta(
  meta: JsonValue | undefined,
  input: CreateMetaInput,
): JsonObject {
  const m: JsonObject = { ...asObject(meta) };
  if ((m.name === undefined || m.name === "") && typeof m.generateName === "string") {
    const base = m.generateName.slice(0, MAX_GENERATED_NAME_LENGTH);
    m.name = `${base}${input.generateNameSuffix ?? ""}`;
  }
  m.uid = input.uid;
  m.creationTimestamp = input.creationTimestamp;
  delete m.resourceVersion;
  delete m.selfLink;
  delete m.deletionTimestamp;
  delete m.deletionGracePeriodSeconds;
  if (input.tracksGeneration) m.generation = 1;
  else delete m.generation;
  return m;
}

/** Picks a generateName suffix from a caller-supplied source of randomness in [0, 1). */
export function generateNameSuffix(random: () => number): string {
  let s = "";
  for (let i = 0; i < GENERATE_NAME_SUFFIX_LENGTH; i++)
    s += GENERATE_NAME_ALPHABET[Math.floor(random() * GENERATE_NAME_ALPHABET.length)];
  return s;
}
