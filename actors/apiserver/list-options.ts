/**
 * The options of list and watch (metav1.ListOptions) made ready to use: selectors parsed,
 * resourceVersion semantics checked, watch options validated as kube-apiserver's
 * ValidateListOptions does. They come typed — from the query (request-options.ts) or from an
 * internal ListRequest or WatchRequest, whose fields carry the same names.
 */
import { forbidden, notSupported } from "../api/field-error.ts";
import {
  convertFieldSelector,
  type FieldSelector,
  objectMatchesFieldSelector,
  parseFieldSelector,
} from "../api/field-selector.ts";
import { asObject, type JsonObject } from "../api/json.ts";
import { type LabelSelector, matches, parseLabelSelector } from "../api/label-selector.ts";
import type { ResourceInfo } from "../api/resources.ts";
import { badRequestStatus, invalidStatus } from "../api/status.ts";
import { ApiError } from "../client/errors.ts";
import type { RequestOptions } from "./request-options.ts";

/** The list and watch parameters (what a ListRequest or WatchRequest also carries). */
export type ListQuery = Pick<
  RequestOptions,
  | "labelSelector"
  | "fieldSelector"
  | "resourceVersion"
  | "resourceVersionMatch"
  | "limit"
  | "continue"
  | "allowWatchBookmarks"
  | "sendInitialEvents"
  | "timeoutSeconds"
>;

export interface ListOptions {
  labelSelector: LabelSelector | null;
  fieldSelector: FieldSelector | null;
  /** "" = most recent (linearizable), "0" = any (served locally), else a revision. */
  resourceVersion: string;
  resourceVersionMatch: string;
  limit: number;
  continueToken: string;
  allowWatchBookmarks: boolean;
  timeoutSeconds: number | null;
  /** Absent: the watch's default (initial events only for resourceVersion "" or "0"). */
  sendInitialEvents?: boolean;
}

/** Kubernetes caps list pages at what etcd can return in one response; so do we. */
export const MAX_LIST_LIMIT = 10_000;

/** `k8s.io/initial-events-end`'s only legal companion (KEP-3157's watch-list). */
const NOT_OLDER_THAN = "NotOlderThan";
const LIST_OPTIONS_KIND = { group: "meta.k8s.io", kind: "ListOptions" };

function nonNegative(value: number | undefined, name: string): number | null {
  if (value === undefined) return null;
  if (!Number.isInteger(value) || value < 0)
    throw new ApiError(badRequestStatus(`invalid ${name}: ${value}`));
  return value;
}

export function parseListOptions(r: ResourceInfo, q: ListQuery): ListOptions {
  let labelSelector: LabelSelector | null = null;
  let fieldSelector: FieldSelector | null = null;
  try {
    if (q.labelSelector) labelSelector = parseLabelSelector(q.labelSelector);
    if (q.fieldSelector)
      fieldSelector = convertFieldSelector(r.plural, parseFieldSelector(q.fieldSelector));
  } catch (error) {
    throw new ApiError(badRequestStatus((error as Error).message));
  }
  const rv = q.resourceVersion ?? "";
  if (rv !== "" && !/^\d+$/.test(rv))
    throw new ApiError(badRequestStatus(`invalid resourceVersion: ${rv}`));
  return {
    labelSelector,
    fieldSelector,
    resourceVersion: rv,
    resourceVersionMatch: q.resourceVersionMatch ?? "",
    limit: Math.min(nonNegative(q.limit, "limit") ?? 0, MAX_LIST_LIMIT),
    continueToken: q.continue ?? "",
    allowWatchBookmarks: q.allowWatchBookmarks === true,
    timeoutSeconds: nonNegative(q.timeoutSeconds, "timeoutSeconds"),
    ...(q.sendInitialEvents !== undefined ? { sendInitialEvents: q.sendInitialEvents } : {}),
  };
}

/**
 * A watch's options, validated as `validateWatchOptions` does: `sendInitialEvents` needs
 * `resourceVersionMatch=NotOlderThan`, which a watch takes only together with it (422).
 */
export function parseWatchOptions(r: ResourceInfo, q: ListQuery): ListOptions {
  const options = parseListOptions(r, q);
  const match = options.resourceVersionMatch;
  const errors = [];
  if (options.sendInitialEvents !== undefined && match !== NOT_OLDER_THAN)
    errors.push(
      forbidden(
        "resourceVersionMatch",
        `sendInitialEvents requires setting resourceVersionMatch to ${NOT_OLDER_THAN}`,
      ),
    );
  if (match !== "") {
    if (options.sendInitialEvents === undefined)
      errors.push(
        forbidden(
          "resourceVersionMatch",
          "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        ),
      );
    if (match !== NOT_OLDER_THAN)
      errors.push(notSupported("resourceVersionMatch", match, [NOT_OLDER_THAN]));
    if (options.continueToken !== "")
      errors.push(
        forbidden(
          "resourceVersionMatch",
          "resourceVersionMatch is forbidden when continue is provided",
        ),
      );
  }
  if (errors.length > 0) throw new ApiError(invalidStatus(LIST_OPTIONS_KIND, "", errors));
  return options;
}

/** The object filter a list or watch applies: its label and field selectors. */
export function objectFilter(
  r: ResourceInfo,
  options: Pick<ListOptions, "labelSelector" | "fieldSelector">,
): (obj: JsonObject) => boolean {
  const { labelSelector, fieldSelector } = options;
  return (obj) => {
    if (labelSelector) {
      const labels = asObject(asObject(obj.metadata).labels) as Record<string, string>;
      if (!matches(labelSelector, labels)) return false;
    }
    if (fieldSelector && !objectMatchesFieldSelector(r.plural, fieldSelector, obj)) return false;
    return true;
  };
}
