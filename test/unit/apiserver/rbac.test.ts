/**
 * RBAC as Kubernetes documents it (reference/access-authn-authz/rbac): a Role grants within its
 * namespace, a ClusterRole through a RoleBinding grants only in the binding's namespace and
 * through a ClusterRoleBinding everywhere; resourceNames narrow get/update/delete to those names
 * and so never allow list or create; `pods/log` names a subresource that `pods` does not cover;
 * nonResourceURLs match exactly or by a trailing `*`, and only cluster-wide; subjects are users,
 * groups and ServiceAccounts. Then escalation prevention (you cannot grant what you do not hold
 * unless you may `escalate` / `bind`), access reviews, and the Node authorizer with
 * NodeRestriction, all through the REST handler with authorization on.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { nodeUser, serviceAccountUser, type UserInfo } from "../../../actors/api/user-info.ts";
import { ApiOperations } from "../../../actors/apiserver/api-operations.ts";
import type { Attributes } from "../../../actors/apiserver/auth/attributes.ts";
import { ensureBootstrapPolicy } from "../../../actors/apiserver/auth/policy-bootstrap.ts";
import { PolicyIndex, type RbacObjects } from "../../../actors/apiserver/auth/policy-index.ts";
import { ruleAllows } from "../../../actors/apiserver/auth/rbac-rules.ts";
import { uncoveredRules } from "../../../actors/apiserver/auth/rule-coverage.ts";
import { aggregatedRules } from "../../../actors/controllers/clusterrole-aggregation.ts";
import { ActorSystem } from "../../../actors/system/actor-system.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { certificateGroups } from "../../../transport/node-certificate.ts";
import { type PeerIdentity, tokenIdentity } from "../../../transport/peer-identity.ts";
import { MemoryObjectStore } from "./memory-object-store.ts";
import { authorizedHandler, callerAs } from "./rest-harness.ts";

const alice: UserInfo = { username: "alice", groups: ["devs", "system:authenticated"] };
const bob: UserInfo = { username: "bob", groups: ["system:authenticated"] };
const admin: UserInfo = { username: "root", groups: ["system:masters", "system:authenticated"] };

const G = "rbac.authorization.k8s.io";
const role = (namespace: string, name: string, rules: JsonObject[]): JsonObject => ({
  metadata: { namespace, name },
  rules,
});
const clusterRole = (
  name: string,
  rules: JsonObject[],
  labels?: Record<string, string>,
): JsonObject => ({
  metadata: { name, ...(labels ? { labels } : {}) },
  rules,
});
const binding = (
  namespace: string,
  name: string,
  ref: { kind: string; name: string },
  subjects: JsonObject[],
): JsonObject => ({
  metadata: namespace === "" ? { name } : { namespace, name },
  roleRef: { apiGroup: G, ...ref },
  subjects,
});
const user = (name: string) => ({ kind: "User", apiGroup: G, name });

function index(objects: Partial<RbacObjects>): PolicyIndex {
  return new PolicyIndex({
    clusterRoles: [],
    roles: [],
    clusterRoleBindings: [],
    roleBindings: [],
    ...objects,
  });
}

const res = (
  who: UserInfo,
  verb: string,
  resource: string,
  namespace = "",
  extra: Partial<{ name: string; subresource: string; apiGroup: string }> = {},
): Attributes => ({
  kind: "resource",
  user: who,
  verb,
  apiGroup: extra.apiGroup ?? "",
  resource,
  subresource: extra.subresource ?? "",
  namespace,
  name: extra.name ?? "",
});

describe("RBAC: Role and ClusterRole, RoleBinding and ClusterRoleBinding", () => {
  const podReader = { verbs: ["get", "list", "watch"], apiGroups: [""], resources: ["pods"] };

  it("a Role bound in its namespace grants there and nowhere else", () => {
    const policy = index({
      roles: [role("a", "pod-reader", [podReader])],
      roleBindings: [
        binding("a", "alice-reads", { kind: "Role", name: "pod-reader" }, [user("alice")]),
      ],
    });
    expect(policy.allows(res(alice, "list", "pods", "a"))).toMatch(/RoleBinding "alice-reads\/a"/);
    expect(policy.allows(res(alice, "list", "pods", "b"))).toBeNull();
    expect(policy.allows(res(alice, "list", "pods", ""))).toBeNull(); // all namespaces
    expect(policy.allows(res(alice, "delete", "pods", "a", { name: "p" }))).toBeNull();
    expect(policy.allows(res(bob, "list", "pods", "a"))).toBeNull();
  });

  it("a RoleBinding naming a Role of another namespace grants nothing", () => {
    const policy = index({
      roles: [role("a", "pod-reader", [podReader])],
      roleBindings: [binding("b", "x", { kind: "Role", name: "pod-reader" }, [user("alice")])],
    });
    expect(policy.allows(res(alice, "list", "pods", "b"))).toBeNull();
  });

  it("a ClusterRole through a RoleBinding grants only in the binding's namespace", () => {
    const policy = index({
      clusterRoles: [clusterRole("pod-reader", [podReader])],
      roleBindings: [
        binding("a", "x", { kind: "ClusterRole", name: "pod-reader" }, [user("alice")]),
      ],
    });
    expect(policy.allows(res(alice, "get", "pods", "a", { name: "p" }))).not.toBeNull();
    expect(policy.allows(res(alice, "get", "pods", "b", { name: "p" }))).toBeNull();
  });

  it("a ClusterRoleBinding grants in every namespace, across namespaces and for cluster-scoped resources", () => {
    const policy = index({
      clusterRoles: [
        clusterRole("reader", [
          podReader,
          { verbs: ["get"], apiGroups: [""], resources: ["nodes"] },
        ]),
      ],
      clusterRoleBindings: [
        binding("", "x", { kind: "ClusterRole", name: "reader" }, [user("alice")]),
      ],
    });
    expect(policy.allows(res(alice, "list", "pods", "a"))).toMatch(/ClusterRoleBinding "x"/);
    expect(policy.allows(res(alice, "list", "pods", ""))).not.toBeNull();
    expect(policy.allows(res(alice, "get", "nodes", "", { name: "n1" }))).not.toBeNull();
    expect(policy.allows(res(alice, "delete", "nodes", "", { name: "n1" }))).toBeNull();
  });

  it("a ClusterRoleBinding naming a Role grants nothing", () => {
    const policy = index({
      roles: [role("a", "pod-reader", [podReader])],
      clusterRoleBindings: [
        binding("", "x", { kind: "Role", name: "pod-reader" }, [user("alice")]),
      ],
    });
    expect(policy.allows(res(alice, "list", "pods", "a"))).toBeNull();
  });

  it("subjects: a Group by membership, a ServiceAccount by its user name (namespace defaulting to the binding's)", () => {
    const policy = index({
      roles: [role("a", "pod-reader", [podReader])],
      roleBindings: [
        binding("a", "devs", { kind: "Role", name: "pod-reader" }, [
          { kind: "Group", apiGroup: G, name: "devs" },
        ]),
        binding("a", "sa", { kind: "Role", name: "pod-reader" }, [
          { kind: "ServiceAccount", name: "robot" },
        ]),
      ],
    });
    expect(policy.allows(res(alice, "list", "pods", "a"))).not.toBeNull();
    expect(
      policy.allows(res(serviceAccountUser("a", "robot"), "list", "pods", "a")),
    ).not.toBeNull();
    expect(policy.allows(res(serviceAccountUser("b", "robot"), "list", "pods", "a"))).toBeNull();
    expect(policy.allows(res(bob, "list", "pods", "a"))).toBeNull();
  });
});

describe("RBAC rules: resourceNames, subresources, API groups, non-resource URLs", () => {
  it("resourceNames allow the named objects only, and never list or create", () => {
    const rule = {
      verbs: ["get", "list", "create", "update"],
      apiGroups: [""],
      resources: ["configmaps"],
      resourceNames: ["settings"],
    };
    expect(ruleAllows(rule, res(alice, "get", "configmaps", "a", { name: "settings" }))).toBe(true);
    expect(ruleAllows(rule, res(alice, "update", "configmaps", "a", { name: "settings" }))).toBe(
      true,
    );
    expect(ruleAllows(rule, res(alice, "get", "configmaps", "a", { name: "other" }))).toBe(false);
    expect(ruleAllows(rule, res(alice, "list", "configmaps", "a"))).toBe(false);
    expect(ruleAllows(rule, res(alice, "create", "configmaps", "a"))).toBe(false);
  });

  it("a resource does not cover its subresources; `pods/log`, `*/log` and `*` do", () => {
    const pods = { verbs: ["get"], apiGroups: [""], resources: ["pods"] };
    const log = { verbs: ["get"], apiGroups: [""], resources: ["pods/log"] };
    const anyLog = { verbs: ["get"], apiGroups: [""], resources: ["*/log"] };
    const all = { verbs: ["get"], apiGroups: [""], resources: ["*"] };
    const podLog = res(alice, "get", "pods", "a", { name: "p", subresource: "log" });
    expect(ruleAllows(pods, podLog)).toBe(false);
    expect(ruleAllows(log, podLog)).toBe(true);
    expect(ruleAllows(log, res(alice, "get", "pods", "a", { name: "p" }))).toBe(false);
    expect(ruleAllows(anyLog, podLog)).toBe(true);
    expect(
      ruleAllows(anyLog, res(alice, "get", "pods", "a", { name: "p", subresource: "status" })),
    ).toBe(false);
    expect(ruleAllows(all, podLog)).toBe(true);
  });

  it('the API group must match: core `""` is not `apps`', () => {
    const rule = { verbs: ["*"], apiGroups: ["apps"], resources: ["deployments"] };
    expect(ruleAllows(rule, res(alice, "create", "deployments", "a", { apiGroup: "apps" }))).toBe(
      true,
    );
    expect(ruleAllows(rule, res(alice, "create", "deployments", "a"))).toBe(false);
  });

  it("nonResourceURLs match exactly or by a trailing `*`, and through ClusterRoleBindings only", () => {
    const rule = { verbs: ["get"], nonResourceURLs: ["/healthz", "/apis/*"] };
    const path = (p: string, verb = "get"): Attributes => ({
      kind: "nonResource",
      user: alice,
      verb,
      path: p,
    });
    expect(ruleAllows(rule, path("/healthz"))).toBe(true);
    expect(ruleAllows(rule, path("/healthz/etcd"))).toBe(false);
    expect(ruleAllows(rule, path("/apis/apps/v1"))).toBe(true);
    expect(ruleAllows(rule, path("/apis/apps/v1", "post"))).toBe(false);
    expect(ruleAllows(rule, path("/api"))).toBe(false);
    const viaRoleBinding = index({
      clusterRoles: [clusterRole("health", [rule])],
      roleBindings: [binding("a", "x", { kind: "ClusterRole", name: "health" }, [user("alice")])],
    });
    expect(viaRoleBinding.allows(path("/healthz"))).toBeNull();
  });
});

describe("rule coverage (what escalation prevention compares)", () => {
  it("an owner covers the pieces it allows; a `*` in the servant needs a `*` in the owner", () => {
    const owner = [{ verbs: ["get", "list"], apiGroups: [""], resources: ["pods", "configmaps"] }];
    expect(
      uncoveredRules(owner, [{ verbs: ["get"], apiGroups: [""], resources: ["pods"] }]),
    ).toEqual([]);
    expect(
      uncoveredRules(owner, [{ verbs: ["get", "delete"], apiGroups: [""], resources: ["pods"] }]),
    ).toEqual([{ verbs: ["delete"], apiGroups: [""], resources: ["pods"] }]);
    expect(
      uncoveredRules(owner, [{ verbs: ["*"], apiGroups: [""], resources: ["pods"] }]),
    ).toHaveLength(1);
    const named = [{ verbs: ["get"], apiGroups: [""], resources: ["pods"], resourceNames: ["a"] }];
    expect(
      uncoveredRules(named, [
        { verbs: ["get"], apiGroups: [""], resources: ["pods"], resourceNames: ["a"] },
      ]),
    ).toEqual([]);
    expect(
      uncoveredRules(named, [{ verbs: ["get"], apiGroups: [""], resources: ["pods"] }]),
    ).toHaveLength(1);
  });
});

describe("ClusterRole aggregation", () => {
  it("unions the selected roles' rules in name order without duplicates, itself excluded", () => {
    const label = "rbac.authorization.k8s.io/aggregate-to-view";
    const aggregated: JsonObject = {
      metadata: { name: "view", labels: { [label]: "true" } },
      aggregationRule: { clusterRoleSelectors: [{ matchLabels: { [label]: "true" } }] },
      rules: [],
    };
    const a = clusterRole("b-role", [{ verbs: ["get"], apiGroups: [""], resources: ["pods"] }], {
      [label]: "true",
    });
    const b = clusterRole(
      "a-role",
      [
        { verbs: ["list"], apiGroups: [""], resources: ["pods"] },
        { verbs: ["get"], apiGroups: [""], resources: ["pods"] },
      ],
      { [label]: "true" },
    );
    const other = clusterRole("c-role", [
      { verbs: ["delete"], apiGroups: [""], resources: ["pods"] },
    ]);
    expect(aggregatedRules(aggregated, [aggregated, a, b, other])).toEqual([
      { verbs: ["list"], apiGroups: [""], resources: ["pods"] },
      { verbs: ["get"], apiGroups: [""], resources: ["pods"] },
    ]);
    expect(aggregatedRules(other, [aggregated, a, b, other])).toBeNull();
  });
});

/** A handler with authorization on, the bootstrap policy, and namespaces a and b. */
async function cluster() {
  const store = new MemoryObjectStore();
  const clock = new ManualClock(0, 1_700_000_000_000);
  await ensureBootstrapPolicy(store, clock.wallMs());
  const call = callerAs(authorizedHandler(store, clock));
  for (const ns of ["a", "b"])
    await call(admin, "POST", "/api/v1/namespaces", { metadata: { name: ns } });
  return call;
}

const ROLES = (ns: string) => `/apis/${G}/v1/namespaces/${ns}/roles`;
const ROLE_BINDINGS = (ns: string) => `/apis/${G}/v1/namespaces/${ns}/rolebindings`;

describe("escalation prevention through the API", () => {
  async function withManager(extraRules: JsonObject[] = []) {
    const call = await cluster();
    // alice may manage roles and bindings in a, and read pods there: nothing more
    const manager = role("a", "manager", [
      { verbs: ["create", "update", "get"], apiGroups: [G], resources: ["roles", "rolebindings"] },
      { verbs: ["get", "list"], apiGroups: [""], resources: ["pods"] },
      ...extraRules,
    ]);
    expect((await call(admin, "POST", ROLES("a"), manager)).code).toBe(201);
    const b = binding("a", "alice-manages", { kind: "Role", name: "manager" }, [user("alice")]);
    expect((await call(admin, "POST", ROLE_BINDINGS("a"), b)).code).toBe(201);
    return call;
  }

  it("a Role granting only what the writer holds is created; one granting more is refused", async () => {
    const call = await withManager();
    const ok = await call(
      alice,
      "POST",
      ROLES("a"),
      role("a", "reader", [{ verbs: ["get"], apiGroups: [""], resources: ["pods"] }]),
    );
    expect(ok.code).toBe(201);
    const refused = await call(
      alice,
      "POST",
      ROLES("a"),
      role("a", "secrets", [{ verbs: ["get"], apiGroups: [""], resources: ["secrets"] }]),
    );
    expect(refused.code).toBe(403);
    expect(String(refused.body.message)).toContain(
      "is attempting to grant RBAC permissions not currently held",
    );
    expect(String(refused.body.message)).toContain('Resources:["secrets"]');
    // what alice holds in a she does not hold in b
    const elsewhere = await call(
      alice,
      "POST",
      ROLES("b"),
      role("b", "reader", [{ verbs: ["get"], apiGroups: [""], resources: ["pods"] }]),
    );
    expect(elsewhere.code).toBe(403);
  });

  it("`escalate` lets the writer grant what it does not hold", async () => {
    const call = await withManager([{ verbs: ["escalate"], apiGroups: [G], resources: ["roles"] }]);
    const created = await call(
      alice,
      "POST",
      ROLES("a"),
      role("a", "secrets", [{ verbs: ["get"], apiGroups: [""], resources: ["secrets"] }]),
    );
    expect(created.code).toBe(201);
  });

  it("a binding to a role whose rules the writer lacks is refused unless it may `bind` that role", async () => {
    const call = await withManager();
    const toEdit = binding(
      "a",
      "bob-edits",
      { kind: "ClusterRole", name: "system:aggregate-to-edit" },
      [user("bob")],
    );
    const refused = await call(alice, "POST", ROLE_BINDINGS("a"), toEdit);
    expect(refused.code).toBe(403);
    const reader = binding("a", "bob-reads", { kind: "Role", name: "manager" }, [user("bob")]);
    expect((await call(alice, "POST", ROLE_BINDINGS("a"), reader)).code).toBe(201);
    const callBind = await withManager([
      {
        verbs: ["bind"],
        apiGroups: [G],
        resources: ["clusterroles"],
        resourceNames: ["system:aggregate-to-edit"],
      },
    ]);
    expect((await callBind(alice, "POST", ROLE_BINDINGS("a"), toEdit)).code).toBe(201);
  });
});

describe("access reviews", () => {
  it("a SelfSubjectAccessReview answers for the requester; a SubjectAccessReview needs its own permission", async () => {
    const call = await cluster();
    const podReader = role("a", "pod-reader", [
      { verbs: ["list"], apiGroups: [""], resources: ["pods"] },
    ]);
    await call(admin, "POST", ROLES("a"), podReader);
    await call(
      admin,
      "POST",
      ROLE_BINDINGS("a"),
      binding("a", "x", { kind: "Role", name: "pod-reader" }, [user("alice")]),
    );
    const ssar = (ns: string) => ({
      spec: { resourceAttributes: { namespace: ns, verb: "list", resource: "pods" } },
    });
    const yes = await call(
      alice,
      "POST",
      "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
      ssar("a"),
    );
    expect(yes.code).toBe(201);
    expect(yes.body.status).toMatchObject({ allowed: true });
    const no = await call(
      alice,
      "POST",
      "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
      ssar("b"),
    );
    expect(no.body.status).toMatchObject({ allowed: false });
    const sar = {
      spec: {
        user: "alice",
        resourceAttributes: { namespace: "a", verb: "list", resource: "pods" },
      },
    };
    expect(
      (await call(bob, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar)).code,
    ).toBe(403);
    const asAdmin = await call(
      admin,
      "POST",
      "/apis/authorization.k8s.io/v1/subjectaccessreviews",
      sar,
    );
    expect(asAdmin.body.status).toMatchObject({ allowed: true });
    const rules = await call(
      alice,
      "POST",
      "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
      {
        spec: { namespace: "a" },
      },
    );
    expect(rules.code).toBe(201);
    const status = rules.body.status as {
      resourceRules: JsonObject[];
      nonResourceRules: JsonObject[];
    };
    expect(status.resourceRules).toContainEqual({
      verbs: ["list"],
      apiGroups: [""],
      resources: ["pods"],
    });
    expect(status.nonResourceRules.length).toBeGreaterThan(0); // system:discovery
  });
});

describe("the Node authorizer and NodeRestriction", () => {
  async function twoNodes() {
    const call = await cluster();
    for (const name of ["s1", "s2"])
      await call(admin, "POST", "/api/v1/namespaces/a/secrets", { metadata: { name }, data: {} });
    for (const [pod, node, secret] of [
      ["p1", "n1", "s1"],
      ["p2", "n2", "s2"],
    ] as const)
      await call(admin, "POST", "/api/v1/namespaces/a/pods", {
        metadata: { name: pod },
        spec: {
          nodeName: node,
          containers: [{ name: "c", image: "bosun/pause" }],
          volumes: [{ name: "v", secret: { secretName: secret } }],
        },
      });
    return call;
  }

  it("a kubelet reads the Secret of a pod bound to it, not another node's pod's, and lists none", async () => {
    const call = await twoNodes();
    const n1 = nodeUser("n1");
    expect((await call(n1, "GET", "/api/v1/namespaces/a/secrets/s1")).code).toBe(200);
    const other = await call(n1, "GET", "/api/v1/namespaces/a/secrets/s2");
    expect(other.code).toBe(403);
    expect(String(other.body.message)).toContain(
      "no relationship found between the node and this object",
    );
    expect((await call(n1, "GET", "/api/v1/namespaces/a/secrets")).code).toBe(403);
    expect((await call(nodeUser("n2"), "GET", "/api/v1/namespaces/a/secrets/s2")).code).toBe(200);
  });

  it("a kubelet writes its own Node and its own pods' status only", async () => {
    const call = await twoNodes();
    const n1 = nodeUser("n1");
    const merge = "application/merge-patch+json";
    expect((await call(n1, "POST", "/api/v1/nodes", { metadata: { name: "n1" } })).code).toBe(201);
    expect((await call(n1, "POST", "/api/v1/nodes", { metadata: { name: "n2" } })).code).toBe(403);
    const ownStatus = await call(
      n1,
      "PATCH",
      "/api/v1/namespaces/a/pods/p1/status",
      { status: { phase: "Running" } },
      merge,
    );
    expect(ownStatus.code).toBe(200);
    const otherStatus = await call(
      n1,
      "PATCH",
      "/api/v1/namespaces/a/pods/p2/status",
      { status: { phase: "Running" } },
      merge,
    );
    expect(otherStatus.code).toBe(403);
    expect(
      (
        await call(
          n1,
          "PATCH",
          "/api/v1/namespaces/a/pods/p1",
          { metadata: { labels: { x: "y" } } },
          merge,
        )
      ).code,
    ).toBe(403);
    expect((await call(n1, "DELETE", "/api/v1/namespaces/a/pods/p2")).code).toBe(403);
    expect(
      (
        await call(n1, "POST", "/api/v1/namespaces/a/pods", {
          metadata: { name: "p3" },
          spec: { containers: [{ name: "c", image: "x" }] },
        })
      ).code,
    ).toBe(403);
  });
});

describe("the internal API over the mesh", () => {
  it("on a plaintext mesh, authorizes a component as the identity it declares; an undeclared caller holds the join token", async () => {
    const store = new MemoryObjectStore();
    const clock = new ManualClock(0, 1_700_000_000_000);
    await ensureBootstrapPolicy(store, clock.wallMs());
    const handler = authorizedHandler(store, clock);
    const call = callerAs(handler);
    await call(admin, "POST", "/api/v1/namespaces", { metadata: { name: "a" } });
    await call(admin, "POST", "/api/v1/namespaces/a/secrets", { metadata: { name: "s2" } });
    const system = new ActorSystem({ nodeId: "n1", clock, logger: pino({ level: "silent" }) });
    const ops = new ApiOperations({ system, handler });
    const from = "n1/api-client-1";
    const peer = tokenIdentity("n1");
    const asKubelet = await ops.get(
      { resource: "secrets", namespace: "a", name: "s2" },
      { from, peer, declared: nodeUser("n1") },
    );
    expect(asKubelet.ok).toBe(false);
    if (!asKubelet.ok) expect(asKubelet.status.code).toBe(403);
    const asScheduler = await ops.list(
      { resource: "secrets", namespace: "a" },
      {
        from,
        peer,
        declared: { username: "system:kube-scheduler", groups: ["system:authenticated"] },
      },
    );
    expect(asScheduler.ok).toBe(false);
    const watch = await ops.watch(
      "n1/x",
      "t",
      { resource: "secrets", namespace: "a" },
      { from, peer, declared: nodeUser("n1") },
    );
    expect(watch?.code).toBe(403);
    const undeclared = await ops.get(
      { resource: "secrets", namespace: "a", name: "s2" },
      { from, peer, declared: null },
    );
    expect(undeclared.ok).toBe(true);
  });

  it("on a TLS mesh, refuses with 403 what the link's certificate does not allow, and runs an undeclared agent as its certificate", async () => {
    const store = new MemoryObjectStore();
    const clock = new ManualClock(0, 1_700_000_000_000);
    await ensureBootstrapPolicy(store, clock.wallMs());
    const handler = authorizedHandler(store, clock);
    const call = callerAs(handler);
    await call(admin, "POST", "/api/v1/namespaces", { metadata: { name: "a" } });
    await call(admin, "POST", "/api/v1/namespaces/a/secrets", { metadata: { name: "s2" } });
    await call(admin, "POST", "/api/v1/nodes", { metadata: { name: "n3" } });
    const system = new ActorSystem({ nodeId: "n1", clock, logger: pino({ level: "silent" }) });
    const ops = new ApiOperations({ system, handler });
    const agent: PeerIdentity = {
      nodeId: "n3",
      commonName: "system:node:n3",
      groups: certificateGroups("agent"),
      serialNumber: "01",
      role: "agent",
    };
    const from = "n3/api-client-1";
    const asOtherNode = await ops.get(
      { resource: "nodes", name: "n3" },
      { from, peer: agent, declared: nodeUser("n2") },
    );
    expect(asOtherNode.ok).toBe(false);
    if (!asOtherNode.ok) {
      expect(asOtherNode.status.code).toBe(403);
      expect(asOtherNode.status.message).toContain('may not act as "system:node:n2"');
    }
    const watchAsMaster = await ops.watch(
      "n3/x",
      "t",
      { resource: "secrets", namespace: "a" },
      { from, peer: agent, declared: { username: "x", groups: ["system:masters"] } },
    );
    expect(watchAsMaster?.code).toBe(403);
    const asItself = await ops.get(
      { resource: "nodes", name: "n3" },
      { from, peer: agent, declared: nodeUser("n3") },
    );
    expect(asItself.ok).toBe(true);
    // undeclared: the certificate's own identity, held to its node like a kubelet
    const undeclaredNode = await ops.get(
      { resource: "nodes", name: "n3" },
      { from, peer: agent, declared: null },
    );
    expect(undeclaredNode.ok).toBe(true);
    const undeclaredSecret = await ops.get(
      { resource: "secrets", namespace: "a", name: "s2" },
      { from, peer: agent, declared: null },
    );
    expect(undeclaredSecret.ok).toBe(false);
    if (!undeclaredSecret.ok) expect(undeclaredSecret.status.code).toBe(403);
    const server: PeerIdentity = {
      nodeId: "n1",
      commonName: "system:node:n1",
      groups: certificateGroups("server"),
      serialNumber: "02",
      role: "server",
    };
    const undeclaredServer = await ops.get(
      { resource: "secrets", namespace: "a", name: "s2" },
      { from: "n1/api-client-1", peer: server, declared: null },
    );
    expect(undeclaredServer.ok).toBe(true);
  });
});

describe("RBAC validation", () => {
  it("a ClusterRoleBinding names a ClusterRole; a binding's roleRef never changes; namespaced rules have no URLs", async () => {
    const call = await cluster();
    const crb = binding("", "x", { kind: "Role", name: "r" }, [user("alice")]);
    expect((await call(admin, "POST", `/apis/${G}/v1/clusterrolebindings`, crb)).code).toBe(422);
    const rb = binding("a", "x", { kind: "ClusterRole", name: "view" }, [user("alice")]);
    const created = await call(admin, "POST", ROLE_BINDINGS("a"), rb);
    expect(created.code).toBe(201);
    const changed = {
      ...created.body,
      roleRef: { apiGroup: G, kind: "ClusterRole", name: "edit" },
    };
    const refused = await call(admin, "PUT", `${ROLE_BINDINGS("a")}/x`, changed);
    expect(refused.code).toBe(422);
    expect(String(refused.body.message)).toContain("cannot change roleRef");
    const urls = role("a", "u", [{ verbs: ["get"], nonResourceURLs: ["/healthz"] }]);
    expect((await call(admin, "POST", ROLES("a"), urls)).code).toBe(422);
  });
});
