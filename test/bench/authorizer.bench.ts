/**
 * `npx tsx test/bench/authorizer.bench.ts [--calls N]`: what authorization adds to one request,
 * in-process (no network, no other load to blur it): the Node,RBAC decision for a user that
 * RBAC allows through a ClusterRoleBinding, one that a RoleBinding allows, one nobody allows,
 * and a `system:masters` member, over the bootstrap policy plus 100 namespaces with a Role and a
 * RoleBinding each; microseconds per decision, beside a configmap get through the handler with
 * authorization off (the in-memory store's get, no network or Raft round trip).
 */
import { Command } from "commander";
import type { UserInfo } from "../../actors/api/user-info.ts";
import type { Attributes } from "../../actors/apiserver/auth/attributes.ts";
import { Authorization } from "../../actors/apiserver/auth/authorization.ts";
import { ensureBootstrapPolicy } from "../../actors/apiserver/auth/policy-bootstrap.ts";
import { ResourceHandler } from "../../actors/apiserver/resource-handler.ts";
import { ManualClock } from "../../actors/system/clock.ts";
import { MemoryObjectStore } from "../unit/apiserver/memory-object-store.ts";
import { callerAs } from "../unit/apiserver/rest-harness.ts";

const G = "rbac.authorization.k8s.io";

async function main(calls: number): Promise<void> {
  const store = new MemoryObjectStore();
  const clock = new ManualClock(0, 1_700_000_000_000);
  await ensureBootstrapPolicy(store, clock.wallMs());
  const on = callerAs(
    new ResourceHandler(store, clock, undefined, undefined, {}, new Authorization(store)),
  );
  const off = callerAs(
    new ResourceHandler(store, clock, undefined, undefined, {}, new Authorization(store, false)),
  );
  const admin: UserInfo = { username: "root", groups: ["system:masters", "system:authenticated"] };
  await on(admin, "POST", `/apis/${G}/v1/clusterroles`, {
    metadata: { name: "bench" },
    rules: [{ verbs: ["*"], apiGroups: [""], resources: ["configmaps"] }],
  });
  await on(admin, "POST", `/apis/${G}/v1/clusterrolebindings`, {
    metadata: { name: "bench" },
    roleRef: { apiGroup: G, kind: "ClusterRole", name: "bench" },
    subjects: [{ kind: "User", apiGroup: G, name: "alice" }],
  });
  for (let i = 0; i < 100; i++) {
    const ns = `ns${i}`;
    await on(admin, "POST", "/api/v1/namespaces", { metadata: { name: ns } });
    await on(admin, "POST", `/apis/${G}/v1/namespaces/${ns}/roles`, {
      metadata: { name: "r" },
      rules: [{ verbs: ["get"], apiGroups: [""], resources: ["configmaps"] }],
    });
    await on(admin, "POST", `/apis/${G}/v1/namespaces/${ns}/rolebindings`, {
      metadata: { name: "b" },
      roleRef: { apiGroup: G, kind: "Role", name: "r" },
      subjects: [{ kind: "User", apiGroup: G, name: `user${i}` }],
    });
  }
  await on(admin, "POST", "/api/v1/namespaces/ns50/configmaps", { metadata: { name: "c" } });
  const authorization = new Authorization(store);
  const get = (user: UserInfo): Attributes => ({
    kind: "resource",
    user,
    verb: "get",
    apiGroup: "",
    resource: "configmaps",
    subresource: "",
    namespace: "ns50",
    name: "c",
  });
  const user = (name: string): UserInfo => ({ username: name, groups: ["system:authenticated"] });
  const time = async (label: string, op: () => Promise<unknown>) => {
    for (let i = 0; i < calls / 10; i++) await op();
    const start = performance.now();
    for (let i = 0; i < calls; i++) await op();
    const us = ((performance.now() - start) * 1000) / calls;
    console.log(`${label.padEnd(58)}${us.toFixed(1).padStart(8)} µs`);
    return us;
  };
  console.log(
    `authorization cost, ${calls} calls each (bootstrap policy + 100 Roles and RoleBindings)`,
  );
  // the steady state of a server: the watch keeps the index, a decision walks the bindings
  const policy = await authorization.policy();
  const decide = async (a: Attributes) => policy.allows(a);
  await time("indexed decision: allowed by a ClusterRoleBinding", () => decide(get(user("alice"))));
  await time("indexed decision: allowed by a RoleBinding", () => decide(get(user("user50"))));
  await time("indexed decision: nobody allows (403)", () => decide(get(user("mallory"))));
  await time("decision: system:masters (RBAC not asked)", () =>
    authorization.authorize(get(admin)),
  );
  // this in-memory store has no watch: every decision lists and indexes again (the fallback)
  await time("unwatched decision (lists and indexes each time)", () =>
    authorization.authorize(get(user("alice"))),
  );
  const path = "/api/v1/namespaces/ns50/configmaps/c";
  await time("configmap get through the handler, authorization off", () =>
    off(user("alice"), "GET", path),
  );
}

new Command("bench:authorizer")
  .option("--calls <n>", "calls per measurement", "20000")
  .action(async (o: { calls: string }) => main(Number(o.calls)))
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
