/**
 * PodDisruptionBudget (`policy/v1`) validation (`pkg/apis/policy/validation`): one of
 * `minAvailable` or `maxUnavailable`, each a non-negative integer or a percentage (0–100%).
 * What a budget allows is its status (`disruptionsAllowed`), kept by the disruption controller.
 */
import { type FieldError, invalid } from "./field-error.ts";
import { asObject, type JsonValue } from "./json.ts";

const PERCENT = /^(\d+)%$/;

function validateIntOrPercent(value: JsonValue | undefined, path: string): FieldError[] {
  if (value === undefined || value === null) return [];
  if (typeof value === "number")
    return Number.isInteger(value) && value >= 0
      ? []
      : [invalid(path, value, "must be greater than or equal to 0")];
  if (typeof value === "string") {
    const m = PERCENT.exec(value);
    if (m && Number(m[1]) <= 100) return [];
    return [invalid(path, value, "must be an integer or a percentage between 0% and 100%")];
  }
  return [invalid(path, value, "must be an integer or a percentage")];
}

export function validatePodDisruptionBudgetSpec(specValue: JsonValue | undefined): FieldError[] {
  const spec = asObject(specValue);
  const errors = [
    ...validateIntOrPercent(spec.minAvailable, "spec.minAvailable"),
    ...validateIntOrPercent(spec.maxUnavailable, "spec.maxUnavailable"),
  ];
  if (spec.minAvailable !== undefined && spec.maxUnavailable !== undefined)
    errors.push(invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set"));
  return errors;
}
