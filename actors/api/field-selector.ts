/**
 * Field selectors, with the semantics of apimachinery `pkg/fields/selector.go` and the
 * per-kind field label conversions of `pkg/apis/core/v1/conversion.go` (and apps/v1):
 *
 * - terms are separated by unescaped `,` (AND); each term is `field=value`, `field==value` or
 *   `field!=value`, split at the first operator; whitespace is not trimmed;
 * - in values `\\`, `\,` and `\=` are the escapes; any other `\x`, a trailing `\`, or a bare `,`
 *   or `=` is an error;
 * - `f=v` matches when the object's field equals v (a missing field reads as ""), `f!=v` when
 *   it differs;
 * - each resource supports a fixed set of field labels; anything else is rejected with the
 *   conversion function's error, which the API server returns as 400 BadRequest.
 */
import { asArray, asObject, asString, getPath, type JsonObject } from "./json.ts";

export interface FieldRequirement {
  readonly field: string;
  /** `==` parses to `=` (Go's hasTerm), so the canonical form prints `=`. */
  readonly operator: "=" | "!=";
  readonly value: string;
}

export interface FieldSelector {
  readonly requirements: readonly FieldRequirement[];
}

export type Fields = Readonly<Record<string, string>>;

export class FieldSelectorError extends Error {
  override name = "FieldSelectorError";
}

/** Split on commas that are not escaped by a backslash. */
function splitTerms(selector: string): string[] {
  if (selector.length === 0) return [];
  const terms: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (inSlash) inSlash = false;
    else if (c === "\\") inSlash = true;
    else if (c === ",") {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms;
}

const TERM_OPERATORS = ["!=", "==", "="] as const;

function splitTerm(term: string): [string, string, string] | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of TERM_OPERATORS) {
      if (term.startsWith(op, i)) return [term.slice(0, i), op, term.slice(i + op.length)];
    }
  }
  return undefined;
}

/** `fields.EscapeValue`. */
export function escapeValue(value: string): string {
  return value.replace(/[\\,=]/g, (c) => `\\${c}`);
}

/** `fields.UnescapeValue`. */
export function unescapeValue(value: string): string {
  if (!/[\\,=]/.test(value)) return value;
  let out = "";
  let inSlash = false;
  for (const c of value) {
    if (inSlash) {
      if (c === "\\" || c === "," || c === "=") out += c;
      else throw new FieldSelectorError(`invalid field selector: invalid escape sequence: \\${c}`);
      inSlash = false;
      continue;
    }
    if (c === "\\") inSlash = true;
    else if (c === "," || c === "=")
      throw new FieldSelectorError(`invalid field selector: unescaped character in value: ${c}`);
    else out += c;
  }
  if (inSlash) throw new FieldSelectorError("invalid field selector: invalid escape sequence: \\");
  return out;
}

/** `fields.ParseSelector`: terms are sorted as raw strings first, like the Go code. */
export function parseFieldSelector(selector: string): FieldSelector {
  const parts = splitTerms(selector).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const requirements: FieldRequirement[] = [];
  for (const part of parts) {
    if (part === "") continue;
    const split = splitTerm(part);
    if (split === undefined)
      throw new FieldSelectorError(`invalid selector: '${selector}'; can't understand '${part}'`);
    const [field, op, rhs] = split;
    requirements.push({ field, operator: op === "!=" ? "!=" : "=", value: unescapeValue(rhs) });
  }
  return { requirements };
}

export function fieldSelectorToString(selector: FieldSelector): string {
  return selector.requirements
    .map((r) => `${r.field}${r.operator}${escapeValue(r.value)}`)
    .join(",");
}

export function matchesFields(selector: FieldSelector, fields: Fields): boolean {
  return selector.requirements.every((r) => {
    const actual = fields[r.field] ?? "";
    return r.operator === "=" ? actual === r.value : actual !== r.value;
  });
}

// ---------------------------------------------------------------------------------------------
// Per-resource field labels
// ---------------------------------------------------------------------------------------------

const META_FIELDS = ["metadata.name", "metadata.namespace"] as const;

/**
 * Supported field labels per resource (plural name), beyond metadata.name/namespace, and the
 * style of error the kind's conversion function returns. Kinds with a custom conversion say
 * "field label not supported"; the rest fall back to `DefaultMetaV1FieldSelectorConversion`.
 */
const FIELD_LABELS: Record<string, { fields: readonly string[]; custom: boolean }> = {
  pods: {
    fields: [
      "spec.nodeName",
      "spec.restartPolicy",
      "spec.schedulerName",
      "spec.serviceAccountName",
      "spec.hostNetwork",
      "status.phase",
      "status.podIP",
      "status.podIPs",
      "status.nominatedNodeName",
    ],
    custom: true,
  },
  events: {
    fields: [
      "involvedObject.kind",
      "involvedObject.namespace",
      "involvedObject.name",
      "involvedObject.uid",
      "involvedObject.apiVersion",
      "involvedObject.resourceVersion",
      "involvedObject.fieldPath",
      "reason",
      "reportingComponent",
      "source",
      "type",
    ],
    custom: true,
  },
  namespaces: { fields: ["status.phase"], custom: true },
  secrets: { fields: ["type"], custom: true },
  nodes: { fields: ["spec.unschedulable"], custom: true },
  services: { fields: ["spec.clusterIP", "spec.type"], custom: true },
  replicasets: { fields: ["status.replicas"], custom: true },
};

/** Field labels a resource accepts in `fieldSelector`. */
export function supportedFieldLabels(resource: string): readonly string[] {
  return [...META_FIELDS, ...(FIELD_LABELS[resource]?.fields ?? [])];
}

/**
 * The conversion step the API server runs before listing: renames legacy labels (`spec.host` on
 * pods is `spec.nodeName`) and rejects unsupported ones with Kubernetes' message. The caller
 * returns the thrown message as a 400 BadRequest Status.
 */
export function convertFieldSelector(resource: string, selector: FieldSelector): FieldSelector {
  const spec = FIELD_LABELS[resource];
  const supported = new Set(supportedFieldLabels(resource));
  const requirements = selector.requirements.map((r) => {
    if (resource === "pods" && r.field === "spec.host") return { ...r, field: "spec.nodeName" };
    if (supported.has(r.field)) return r;
    if (spec?.custom) throw new FieldSelectorError(`field label not supported: ${r.field}`);
    throw new FieldSelectorError(
      `"${r.field}" is not a known field selector: only "metadata.name", "metadata.namespace"`,
    );
  });
  return { requirements };
}

const bool = (v: unknown) => (v === true ? "true" : "false");

/** The field set an object exposes to field selectors (the registries' `*ToSelectableFields`). */
export function selectableFields(resource: string, obj: JsonObject): Fields {
  const meta = asObject(obj.metadata);
  const fields: Record<string, string> = {
    "metadata.name": asString(meta.name),
    "metadata.namespace": asString(meta.namespace),
  };
  const spec = asObject(obj.spec);
  const status = asObject(obj.status);
  switch (resource) {
    case "pods": {
      fields["spec.nodeName"] = asString(spec.nodeName);
      fields["spec.restartPolicy"] = asString(spec.restartPolicy);
      fields["spec.schedulerName"] = asString(spec.schedulerName);
      fields["spec.serviceAccountName"] = asString(spec.serviceAccountName);
      fields["spec.hostNetwork"] = bool(spec.hostNetwork);
      fields["status.phase"] = asString(status.phase);
      // The first entry of podIPs is the podIP; selecting on podIPs compares the same value.
      const podIP = asString(asObject(asArray(status.podIPs)[0]).ip) || asString(status.podIP);
      fields["status.podIP"] = podIP;
      fields["status.podIPs"] = podIP;
      fields["status.nominatedNodeName"] = asString(status.nominatedNodeName);
      break;
    }
    case "events": {
      const io = asObject(obj.involvedObject);
      for (const k of [
        "kind",
        "namespace",
        "name",
        "uid",
        "apiVersion",
        "resourceVersion",
        "fieldPath",
      ]) {
        fields[`involvedObject.${k}`] = asString(io[k]);
      }
      fields.reason = asString(obj.reason);
      fields.reportingComponent = asString(obj.reportingComponent);
      fields.source = asString(getPath(obj, ["source", "component"]));
      fields.type = asString(obj.type);
      break;
    }
    case "namespaces":
      fields["status.phase"] = asString(status.phase);
      break;
    case "secrets":
      fields.type = asString(obj.type);
      break;
    case "nodes":
      fields["spec.unschedulable"] = bool(spec.unschedulable);
      break;
    case "services":
      fields["spec.clusterIP"] = asString(spec.clusterIP);
      fields["spec.type"] = asString(spec.type);
      break;
    case "replicasets":
      fields["status.replicas"] = String(typeof status.replicas === "number" ? status.replicas : 0);
      break;
  }
  return fields;
}

/** Convenience: does `obj` of `resource` match an already converted selector? */
export function objectMatchesFieldSelector(
  resource: string,
  selector: FieldSelector,
  obj: JsonObject,
): boolean {
  return matchesFields(selector, selectableFields(resource, obj));
}
