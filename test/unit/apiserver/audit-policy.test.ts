/**
 * The audit policy checker against Kubernetes' documented semantics (the "Audit Policy" section
 * of the Auditing task page, and apiserver's policy checker): first matching rule wins, no match
 * is None, resource rules never match non-resource requests and the reverse.
 */
import { describe, expect, it } from "vitest";
import {
  type AuditAttributes,
  auditDecision,
  parseAuditPolicy,
} from "../../../actors/apiserver/audit-policy.ts";

const alice = { username: "alice", groups: ["dev", "system:authenticated"] };

function resource(
  verb: string,
  r: Partial<NonNullable<AuditAttributes["resource"]>> & { resource: string },
  user = alice,
): AuditAttributes {
  return {
    user,
    verb,
    path: "/api/v1/x",
    resource: { group: "", subresource: null, namespace: null, name: null, ...r },
  };
}

function nonResource(path: string, user = alice): AuditAttributes {
  return { user, verb: "get", path, resource: null };
}

/** The example policy of the Kubernetes docs (audit-policy.yaml), trimmed to what bosun serves. */
const DOCS_POLICY = `
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages:
  - "RequestReceived"
rules:
  - level: RequestResponse
    resources:
    - group: ""
      resources: ["pods"]
  - level: Metadata
    resources:
    - group: ""
      resources: ["pods/log", "pods/status"]
  - level: None
    resources:
    - group: ""
      resources: ["configmaps"]
      resourceNames: ["controller-leader"]
  - level: None
    users: ["system:kube-proxy"]
    verbs: ["watch"]
    resources:
    - group: ""
      resources: ["endpoints", "services"]
  - level: None
    userGroups: ["system:authenticated"]
    nonResourceURLs:
    - "/api*"
    - "/version"
  - level: Request
    resources:
    - group: ""
      resources: ["configmaps"]
    namespaces: ["kube-system"]
  - level: Metadata
    resources:
    - group: ""
      resources: ["secrets", "configmaps"]
  - level: Request
    resources:
    - group: ""
    - group: "extensions"
  - level: Metadata
    omitStages:
      - "RequestReceived"
`;

describe("audit policy (audit.k8s.io/v1)", () => {
  const policy = parseAuditPolicy(DOCS_POLICY);

  it("the first matching rule decides the level", () => {
    expect(auditDecision(policy, resource("get", { resource: "pods" })).level).toBe(
      "RequestResponse",
    );
    // pods/log is not "pods": a subresource is matched as resource/subresource
    expect(
      auditDecision(policy, resource("get", { resource: "pods", subresource: "log" })).level,
    ).toBe("Metadata");
  });

  it("resourceNames narrow a rule to those objects", () => {
    const leader = resource("update", {
      resource: "configmaps",
      namespace: "default",
      name: "controller-leader",
    });
    expect(auditDecision(policy, leader).level).toBe("None");
    const other = resource("update", { resource: "configmaps", namespace: "default", name: "x" });
    expect(auditDecision(policy, other).level).toBe("Metadata");
  });

  it("users and verbs must all match", () => {
    const proxy = { username: "system:kube-proxy", groups: [] };
    expect(auditDecision(policy, resource("watch", { resource: "services" }, proxy)).level).toBe(
      "None",
    );
    // a list by the same user is not the rule's watch: it falls through to the core-group rule
    expect(auditDecision(policy, resource("list", { resource: "services" }, proxy)).level).toBe(
      "Request",
    );
  });

  it("nonResourceURLs match exact paths and `*` prefixes, never resource requests", () => {
    expect(auditDecision(policy, nonResource("/apis/apps/v1")).level).toBe("None");
    expect(auditDecision(policy, nonResource("/version")).level).toBe("None");
    expect(auditDecision(policy, nonResource("/versions")).level).toBe("Metadata");
    // userGroups: someone outside system:authenticated is not matched by that rule
    const anonymous = { username: "system:anonymous", groups: ["system:unauthenticated"] };
    expect(auditDecision(policy, nonResource("/api", anonymous)).level).toBe("Metadata");
  });

  it("namespaces scope a resource rule; an empty group list entry means every resource of the group", () => {
    expect(
      auditDecision(policy, resource("get", { resource: "configmaps", namespace: "kube-system" }))
        .level,
    ).toBe("Request");
    expect(auditDecision(policy, resource("get", { resource: "nodes" })).level).toBe("Request");
    expect(
      auditDecision(policy, resource("get", { resource: "deployments", group: "apps" })).level,
    ).toBe("Metadata");
  });

  it("policy-wide omitStages join the rule's own", () => {
    const d = auditDecision(policy, resource("get", { resource: "pods" }));
    expect([...d.omitStages]).toEqual(["RequestReceived"]);
  });

  it("no matching rule: None", () => {
    const only = parseAuditPolicy(
      "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  verbs: [create]\n",
    );
    expect(auditDecision(only, resource("get", { resource: "pods" })).level).toBe("None");
    expect(auditDecision(only, resource("create", { resource: "pods" })).level).toBe("Metadata");
  });

  it("wildcards: `*`, `*/status`, `pods/*`", () => {
    const p = parseAuditPolicy(`
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: Request
  resources: [{group: "", resources: ["*/status"]}]
- level: RequestResponse
  resources: [{group: "", resources: ["pods/*"]}]
- level: Metadata
  resources: [{group: "apps", resources: ["*"]}]
`);
    const nodeStatus = resource("update", { resource: "nodes", subresource: "status" });
    expect(auditDecision(p, nodeStatus).level).toBe("Request");
    expect(auditDecision(p, resource("get", { resource: "pods", subresource: "log" })).level).toBe(
      "RequestResponse",
    );
    // as apiserver's checker compares only the part before "/*", `pods/*` covers pods itself too
    expect(auditDecision(p, resource("get", { resource: "pods" })).level).toBe("RequestResponse");
    expect(auditDecision(p, resource("get", { resource: "services" })).level).toBe("None");
    expect(
      auditDecision(p, resource("list", { resource: "replicasets", group: "apps" })).level,
    ).toBe("Metadata");
  });

  it("refuses what is not a Policy, an unknown level or stage", () => {
    expect(() => parseAuditPolicy("kind: Policy\nrules: []")).toThrow(/audit.k8s.io\/v1/);
    expect(() =>
      parseAuditPolicy("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Everything\n"),
    ).toThrow(/level/);
    expect(() =>
      parseAuditPolicy(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  omitStages: [Later]\n",
      ),
    ).toThrow(/stage/);
  });
});
