/**
 * Field errors as apimachinery's `pkg/util/validation/field` reports them: a type, the field
 * path (`spec.containers[0].image`), the offending value and a detail. The rendered text
 * (`spec.containers[0].image: Required value`) is what kubectl shows and what `Status.message`
 * of a 422 carries, so it follows `field.Error.Error()` / `ErrorBody()` exactly.
 */

export type FieldErrorType =
  | "FieldValueNotFound"
  | "FieldValueRequired"
  | "FieldValueDuplicate"
  | "FieldValueInvalid"
  | "FieldValueNotSupported"
  | "FieldValueForbidden"
  | "FieldValueTooLong"
  | "FieldValueTooMany"
  | "InternalError"
  | "FieldValueTypeInvalid";

export interface FieldError {
  type: FieldErrorType;
  field: string;
  /** Absent for types whose message omits the value (Required, Forbidden, TooLong, ...). */
  badValue?: unknown;
  detail: string;
}

/** The human text of each type, as `field.ErrorType.String()` spells it. */
const TYPE_TEXT: Record<FieldErrorType, string> = {
  FieldValueNotFound: "Not found",
  FieldValueRequired: "Required value",
  FieldValueDuplicate: "Duplicate value",
  FieldValueInvalid: "Invalid value",
  FieldValueNotSupported: "Unsupported value",
  FieldValueForbidden: "Forbidden",
  FieldValueTooLong: "Too long",
  FieldValueTooMany: "Too many",
  InternalError: "Internal error",
  FieldValueTypeInvalid: "Invalid value",
};

/** Types whose body never prints the value (`ErrorBody` special-cases them). */
const VALUELESS: ReadonlySet<FieldErrorType> = new Set([
  "FieldValueRequired",
  "FieldValueForbidden",
  "FieldValueTooLong",
  "FieldValueTooMany",
  "InternalError",
]);

function formatValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null) return "null";
  return JSON.stringify(value);
}

/** `ErrorBody()`: the message without the field path, e.g. `Invalid value: "x": detail`. */
export function fieldErrorBody(e: FieldError): string {
  let s = TYPE_TEXT[e.type];
  if (!VALUELESS.has(e.type) && e.badValue !== undefined) s += `: ${formatValue(e.badValue)}`;
  if (e.detail.length > 0) s += `: ${e.detail}`;
  return s;
}

/** `Error()`: `field: body`. */
export function fieldErrorText(e: FieldError): string {
  return e.field.length > 0 ? `${e.field}: ${fieldErrorBody(e)}` : fieldErrorBody(e);
}

/** `ErrorList.ToAggregate().Error()`: one message bare, several in `[a, b]`, duplicates dropped. */
export function aggregateText(errors: readonly FieldError[]): string {
  const seen = new Set<string>();
  const msgs: string[] = [];
  for (const e of errors) {
    const t = fieldErrorText(e);
    if (!seen.has(t)) {
      seen.add(t);
      msgs.push(t);
    }
  }
  if (msgs.length === 1) return msgs[0]!;
  return `[${msgs.join(", ")}]`;
}

export const required = (field: string, detail = ""): FieldError => ({
  type: "FieldValueRequired",
  field,
  detail,
});
export const invalid = (field: string, badValue: unknown, detail = ""): FieldError => ({
  type: "FieldValueInvalid",
  field,
  badValue,
  detail,
});
export const duplicate = (field: string, badValue: unknown): FieldError => ({
  type: "FieldValueDuplicate",
  field,
  badValue,
  detail: "",
});
export const notFound = (field: string, badValue: unknown): FieldError => ({
  type: "FieldValueNotFound",
  field,
  badValue,
  detail: "",
});
export const forbidden = (field: string, detail: string): FieldError => ({
  type: "FieldValueForbidden",
  field,
  detail,
});
/** `field.NotSupported`: detail lists the allowed values, each quoted. */
export const notSupported = (
  field: string,
  badValue: unknown,
  supported: readonly string[],
): FieldError => ({
  type: "FieldValueNotSupported",
  field,
  badValue,
  detail:
    supported.length > 0
      ? `supported values: ${supported.map((s) => JSON.stringify(s)).join(", ")}`
      : "",
});
/** `field.TooLong`: the detail names the limit in bytes. */
export const tooLong = (field: string, maxBytes: number): FieldError => ({
  type: "FieldValueTooLong",
  field,
  detail: `may not be more than ${maxBytes} bytes`,
});

/** Field path builders: `child("spec", "containers")`, `index("spec.containers", 0)`. */
export function child(base: string, ...names: string[]): string {
  return [base, ...names].filter((s) => s.length > 0).join(".");
}
export function index(base: string, i: number): string {
  return `${base}[${i}]`;
}
export function key(base: string, k: string): string {
  return `${base}[${k}]`;
}
