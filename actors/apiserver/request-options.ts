/**
 * The query parameters of a resource request, typed once (what kube-apiserver's parameter codec
 * decodes into metav1's ListOptions, GetOptions, CreateOptions, UpdateOptions, PatchOptions and
 * DeleteOptions, and into PodLogOptions). The HTTP layer parses them from the URL here; the
 * internal API builds the same object from its typed messages, so nothing is turned back into a
 * query string to be parsed again.
 *
 * Booleans and integers are read here and nowhere else, with Go's `strconv.ParseBool` and
 * `strconv.ParseInt(s, 10, 64)`: `1 t T TRUE true True` and `0 f F FALSE false False`, a
 * decimal with an optional sign; anything else is a 400 with strconv's own message (so Python's
 * `watch=True` is a watch). kube-apiserver's parameter codec is laxer about booleans
 * (`runtime.Convert_Slice_string_To_bool` takes anything but `0` and `false` in any case as
 * true); bosun refuses what neither reading agrees on instead of guessing. Parameters the API
 * does not know are ignored, as the parameter codec ignores them.
 */
import type { ListRequest, ResourceScope, WatchRequest } from "../api/api-protocol.ts";
import { badRequestStatus } from "../api/status.ts";
import { ApiError } from "../client/errors.ts";

/**
 * The list and watch options are metav1.ListOptions, which the internal API's ListRequest and
 * WatchRequest carry under the same names.
 */
export interface RequestOptions
  extends Omit<ListRequest, keyof ResourceScope>,
    Pick<WatchRequest, "allowWatchBookmarks" | "sendInitialEvents"> {
  watch?: boolean;
  timeoutSeconds?: number;
  // CreateOptions, UpdateOptions, PatchOptions
  dryRun?: string[];
  fieldValidation?: string;
  fieldManager?: string;
  force?: boolean;
  // DeleteOptions, when the DELETE has no body
  gracePeriodSeconds?: number;
  propagationPolicy?: string;
  orphanDependents?: boolean;
  // PodLogOptions
  container?: string;
  follow?: boolean;
  previous?: boolean;
  tailLines?: number;
  limitBytes?: number;
  timestamps?: boolean;
  sinceSeconds?: number;
  sinceTime?: string;
  insecureSkipTLSVerifyBackend?: boolean;
  // output: Table's includeObject (from the Accept header's as=Table), pretty-printing
  includeObject?: string;
  pretty?: boolean;
}

type KeysOfType<T> = { [K in keyof RequestOptions]-?: RequestOptions[K] extends T ? K : never };
type BooleanParam = KeysOfType<boolean | undefined>[keyof RequestOptions];
type IntegerParam = KeysOfType<number | undefined>[keyof RequestOptions];
type StringParam = KeysOfType<string | undefined>[keyof RequestOptions];

const BOOLEAN_PARAMS: readonly BooleanParam[] = [
  "watch",
  "allowWatchBookmarks",
  "sendInitialEvents",
  "force",
  "orphanDependents",
  "follow",
  "previous",
  "timestamps",
  "insecureSkipTLSVerifyBackend",
  "pretty",
];

const INTEGER_PARAMS: readonly IntegerParam[] = [
  "limit",
  "timeoutSeconds",
  "gracePeriodSeconds",
  "tailLines",
  "limitBytes",
  "sinceSeconds",
];

const STRING_PARAMS: readonly StringParam[] = [
  "labelSelector",
  "fieldSelector",
  "resourceVersion",
  "resourceVersionMatch",
  "continue",
  "fieldValidation",
  "fieldManager",
  "propagationPolicy",
  "container",
  "sinceTime",
  "includeObject",
];

const TRUE_WORDS = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const FALSE_WORDS = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/** Go's `strconv.ParseBool`; null when `value` is none of its words. */
export function parseGoBool(value: string): boolean | null {
  if (TRUE_WORDS.has(value)) return true;
  if (FALSE_WORDS.has(value)) return false;
  return null;
}

function parseBool(value: string): boolean {
  const parsed = parseGoBool(value);
  if (parsed === null)
    throw new ApiError(
      badRequestStatus(`strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`),
    );
  return parsed;
}

/** Go's `strconv.ParseInt(value, 10, 64)`, within what a JS number holds exactly. */
function parseInteger(value: string): number {
  if (!/^[+-]?\d+$/.test(value))
    throw new ApiError(
      badRequestStatus(`strconv.ParseInt: parsing ${JSON.stringify(value)}: invalid syntax`),
    );
  const n = Number(value);
  if (!Number.isSafeInteger(n))
    throw new ApiError(
      badRequestStatus(`strconv.ParseInt: parsing ${JSON.stringify(value)}: value out of range`),
    );
  return n;
}

/**
 * The typed options of a request's query. A repeated parameter counts by its first value, except
 * `dryRun`, which is a list. An empty string is an absent one (Go's zero value); an empty
 * boolean or integer is a 400, as strconv has it.
 */
export function parseRequestOptions(query: URLSearchParams): RequestOptions {
  const options: RequestOptions = {};
  for (const name of BOOLEAN_PARAMS) {
    const value = query.get(name);
    if (value !== null) options[name] = parseBool(value);
  }
  for (const name of INTEGER_PARAMS) {
    const value = query.get(name);
    if (value !== null) options[name] = parseInteger(value);
  }
  for (const name of STRING_PARAMS) {
    const value = query.get(name);
    if (value !== null && value !== "") options[name] = value;
  }
  const dryRun = query.getAll("dryRun");
  if (dryRun.length > 0) options.dryRun = dryRun;
  return options;
}

/** `dryRun=All`: everything but the store write; any other value is a 400. */
export function dryRunOf(options: Pick<RequestOptions, "dryRun">): boolean {
  const values = options.dryRun ?? [];
  for (const v of values)
    if (v !== "All")
      throw new ApiError(
        badRequestStatus(`Invalid dryRun value ${JSON.stringify(v)}: must be "All"`),
      );
  return values.length > 0;
}
