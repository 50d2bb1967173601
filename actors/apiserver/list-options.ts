/**
 * The query parameters of list and watch (metav1.ListOptions) parsed once: selectors, paging,
 * resourceVersion semantics, watch options.
 */
import {
  convertFieldSelector,
  type FieldSelector,
  objectMatchesFieldSelector,
  parseFieldSelector,
} from "../api/field-selector.ts";
import { asObject, type JsonObject } from "../api/json.ts";
import { type LabelSelector, matches, parseLabelSelector } from "../api/label-selector.ts";
import type { ResourceInfo } from "../api/resources.ts";
import { badRequestStatus } from "../api/status.ts";
import { ApiError } from "../client/errors.ts";

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
  sendInitialEvents: boolean;
}

/** Kubernetes caps list pages at what etcd can return in one response; so do we. */
export const MAX_LIST_LIMIT = 10_000;

function nonNegativeInt(value: string | null, name: string): number | null {
  if (value === null || value === "") return null;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new ApiError(badRequestStatus(`invalid ${name}: ${value}`));
  return n;
}

export function parseListOptions(r: ResourceInfo, q: URLSearchParams): ListOptions {
  let labelSelector: LabelSelector | null = null;
  let fieldSelector: FieldSelector | null = null;
  try {
    const ls = q.get("labelSelector");
    if (ls) labelSelector = parseLabelSelector(ls);
    const fs = q.get("fieldSelector");
    if (fs) fieldSelector = convertFieldSelector(r.plural, parseFieldSelector(fs));
  } catch (error) {
    throw new ApiError(badRequestStatus((error as Error).message));
  }
  const rv = q.get("resourceVersion") ?? "";
  if (rv !== "" && !/^\d+$/.test(rv))
    throw new ApiError(badRequestStatus(`invalid resourceVersion: ${rv}`));
  return {
    labelSelector,
    fieldSelector,
    resourceVersion: rv,
    resourceVersionMatch: q.get("resourceVersionMatch") ?? "",
    limit: Math.min(nonNegativeInt(q.get("limit"), "limit") ?? 0, MAX_LIST_LIMIT),
    continueToken: q.get("continue") ?? "",
    allowWatchBookmarks: q.get("allowWatchBookmarks") === "true",
    timeoutSeconds: nonNegativeInt(q.get("timeoutSeconds"), "timeoutSeconds"),
    sendInitialEvents: q.get("sendInitialEvents") === "true",
  };
}

/** The object filter a list or watch applies: selectors, and the name for a single watch. */
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
