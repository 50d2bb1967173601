/**
 * An `audit.k8s.io/v1` Event as the audit log holds it, one JSON line per stage, and the
 * attributes of a request that the policy checker and the Event are made from.
 */
import type { JsonValue } from "../api/json.ts";
import type { AuditAttributes, AuditLevel, AuditStage } from "./audit-policy.ts";
import type { RequestInfo } from "./request-info.ts";

export interface AuditObjectRef {
  resource: string;
  namespace?: string;
  name?: string;
  apiGroup: string;
  apiVersion: string;
  subresource?: string;
}

export interface AuditEvent {
  kind: "Event";
  apiVersion: "audit.k8s.io/v1";
  level: AuditLevel;
  auditID: string;
  stage: AuditStage;
  requestURI: string;
  verb: string;
  user: { username: string; groups: string[] };
  sourceIPs: string[];
  userAgent?: string;
  objectRef?: AuditObjectRef;
  responseStatus?: {
    metadata: Record<string, never>;
    code: number;
    status?: string;
    message?: string;
    reason?: string;
  };
  requestObject?: JsonValue;
  responseObject?: JsonValue;
  requestReceivedTimestamp: string;
  stageTimestamp: string;
}

export interface AuditRequest {
  user: { username: string; groups: readonly string[] };
  method: string;
  path: string;
  info: RequestInfo;
  longRunning: boolean;
}

/** The audit attributes of a request, as the policy checker sees them. */
export function auditAttributes(r: AuditRequest): AuditAttributes {
  const rr = r.info.type === "resource" ? r.info.request : null;
  return {
    user: r.user,
    verb: rr?.verb ?? r.method.toLowerCase(),
    path: r.path,
    resource:
      rr === null
        ? null
        : {
            group: rr.resource.group,
            resource: rr.resource.plural,
            subresource: rr.subresource,
            namespace: rr.namespace,
            name: rr.name,
          },
  };
}

export function objectRef(info: RequestInfo): AuditObjectRef | undefined {
  if (info.type !== "resource") return undefined;
  const r = info.request;
  return {
    resource: r.resource.plural,
    ...(r.namespace !== null ? { namespace: r.namespace } : {}),
    ...(r.name !== null ? { name: r.name } : {}),
    apiGroup: r.resource.group,
    apiVersion: r.resource.version,
    ...(r.subresource !== null ? { subresource: r.subresource } : {}),
  };
}
