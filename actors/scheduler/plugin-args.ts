/**
 * Reading a configuration file's objects strictly, as kube-scheduler decodes its configuration
 * (unknown fields are errors, not silence): each finding is a field error with the path it sits
 * at in the file (`profiles[0].pluginConfig[1].args.scoringStrategy.type`), so that a bad file
 * names the field to fix. Shared by the configuration and the plugins' args validation.
 */
import { type FieldError, invalid } from "../api/field-error.ts";
import { isJsonObject, type JsonObject, type JsonValue } from "../api/json.ts";

/** Fields of `obj` not in `allowed`, each as `path.field: Invalid value: unknown field`. */
export function unknownFieldErrors(
  obj: JsonObject,
  allowed: readonly string[],
  path: string,
): FieldError[] {
  return Object.keys(obj)
    .filter((k) => !allowed.includes(k))
    .map((k) => invalid(path === "" ? k : `${path}.${k}`, obj[k], "unknown field"));
}

/** An object field (absent → {}), or an error when it is something else. */
export function objectField(
  value: JsonValue | undefined,
  path: string,
  errors: FieldError[],
): JsonObject {
  if (value === undefined || value === null) return {};
  if (isJsonObject(value)) return value;
  errors.push(invalid(path, value, "must be an object"));
  return {};
}

/** A list field (absent → []), or an error when it is something else. */
export function listField(
  value: JsonValue | undefined,
  path: string,
  errors: FieldError[],
): JsonValue[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  errors.push(invalid(path, value, "must be a list"));
  return [];
}

/** An integer in [min, max] (absent → `fallback`), or an error naming the range. */
export function intField(
  value: JsonValue | undefined,
  path: string,
  range: { min: number; max: number; fallback: number },
  errors: FieldError[],
): number {
  if (value === undefined || value === null) return range.fallback;
  if (
    typeof value !== "number" ||
    !Number.isInteger(value) ||
    value < range.min ||
    value > range.max
  ) {
    errors.push(invalid(path, value, `must be an integer in [${range.min}, ${range.max}]`));
    return range.fallback;
  }
  return value;
}
