/**
 * Unknown-field detection for `fieldValidation=Strict|Warn|Ignore`: the JSON paths of members
 * the built-in type does not have, spelled as Kubernetes' strict decoder spells them
 * (`spec.containers[0].imagee`). Free-form parts of the schema (`any`) are not descended into;
 * kinds without a schema report nothing.
 */
import { isJsonObject, type JsonValue } from "./json.ts";
import { KIND_ROOTS, resolveStruct, type StructSchema, type ValueType } from "./schema.ts";

export function unknownFields(kind: string, object: JsonValue): string[] {
  const root = KIND_ROOTS[kind];
  if (!root || !isJsonObject(object)) return [];
  const out: string[] = [];
  walkStruct(root, object, "", out);
  return out;
}

/** The message of one finding: `unknown field "spec.foo"`. */
export function unknownFieldMessage(path: string): string {
  return `unknown field ${JSON.stringify(path)}`;
}

/**
 * The 400 message for `fieldValidation=Strict` (`Pod in version "v1" cannot be handled as a
 * Pod: strict decoding error: unknown field "spec.foo"`).
 */
export function strictDecodingMessage(
  kind: string,
  version: string,
  paths: readonly string[],
): string {
  return `${kind} in version ${JSON.stringify(version)} cannot be handled as a ${kind}: strict decoding error: ${paths.map(unknownFieldMessage).join(", ")}`;
}

function walkStruct(schema: StructSchema, value: JsonValue, path: string, out: string[]): void {
  if (!isJsonObject(value)) return;
  for (const [k, v] of Object.entries(value)) {
    const p = path === "" ? k : `${path}.${k}`;
    const field = schema[k];
    if (field === undefined) {
      out.push(p);
      continue;
    }
    walkValue(field.type, v, p, out);
  }
}

function walkValue(type: ValueType, value: JsonValue, path: string, out: string[]): void {
  if (value === null) return;
  switch (type.kind) {
    case "scalar":
    case "any":
      return;
    case "struct": {
      const s = resolveStruct(type);
      if (s) walkStruct(s, value, path, out);
      return;
    }
    case "map":
      if (isJsonObject(value))
        for (const [k, v] of Object.entries(value)) walkValue(type.values, v, `${path}.${k}`, out);
      return;
    case "list":
      if (Array.isArray(value))
        value.forEach((v, i) => {
          walkValue(type.items, v, `${path}[${i}]`, out);
        });
      return;
  }
}

/**
 * The object without the members the built-in type does not have (what Kubernetes' decoder
 * drops: `fieldValidation=Warn|Ignore` store the object without them). Kinds without a schema
 * and free-form parts come back as they are.
 */
export function pruneUnknownFields<T extends JsonValue>(kind: string, object: T): T {
  const root = KIND_ROOTS[kind];
  if (!root || !isJsonObject(object)) return object;
  return pruneStruct(root, object) as T;
}

function pruneStruct(schema: StructSchema, value: JsonValue): JsonValue {
  if (!isJsonObject(value)) return value;
  const out: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(value)) {
    const field = schema[k];
    if (field !== undefined) out[k] = pruneValue(field.type, v);
  }
  return out;
}

function pruneValue(type: ValueType, value: JsonValue): JsonValue {
  if (value === null) return value;
  switch (type.kind) {
    case "scalar":
    case "any":
      return value;
    case "struct": {
      const s = resolveStruct(type);
      return s ? pruneStruct(s, value) : value;
    }
    case "map":
      if (!isJsonObject(value)) return value;
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, pruneValue(type.values, v)]),
      );
    case "list":
      return Array.isArray(value) ? value.map((v) => pruneValue(type.items, v)) : value;
  }
}
