/**
 * The filter and score plugins against kube-scheduler's documented behaviour
 * (pkg/scheduler/framework/plugins/*), each through the framework's `schedulePod` or directly.
 */
import { describe, expect, it } from "vitest";
import { toleratesTaint } from "../../../actors/api/taints.ts";
import { DEFAULT_PROFILE } from "../../../actors/scheduler/default-profile.ts";
import {
  findFeasibleNodes,
  fitErrorMessage,
  schedulePod,
  seededRandom,
  selectHost,
} from "../../../actors/scheduler/framework.ts";
import { balancedScore } from "../../../actors/scheduler/plugins/balanced-allocation.ts";
import { requirementMatches } from "../../../actors/scheduler/plugins/node-affinity.ts";
import { leastRequestedScore } from "../../../actors/scheduler/plugins/node-resources-fit.ts";
import { cacheOf, info, node, pod } from "./cluster-fixture.ts";

const feasible = (
  nodes: ReturnType<typeof node>[],
  p: ReturnType<typeof pod>,
  bound = [] as ReturnType<typeof pod>[],
) => findFeasibleNodes(DEFAULT_PROFILE, info(p), cacheOf(nodes, bound));
const names = (r: ReturnType<typeof feasible>) => r.feasible.map((n) => n.name);

describe("NodeResourcesFit", () => {
  it("rejects a node whose allocatable minus bound pods' requests is short, per resource (fit.go: Insufficient <resource>)", () => {
    const r = feasible(
      [node("a", { cpu: "1", memory: "1Gi" }), node("b", { cpu: "2", memory: "512Mi" })],
      pod("p", { cpu: "1500m", memory: "600Mi" }),
    );
    expect(r.feasible).toEqual([]);
    expect(fitErrorMessage(2, r.diagnosis)).toBe(
      "0/2 nodes are available: 1 Insufficient cpu, 1 Insufficient memory.",
    );
  });

  it("counts the pods already bound to the node", () => {
    const r = feasible([node("a", { cpu: "2" }), node("b", { cpu: "2" })], pod("p", { cpu: "1" }), [
      pod("x", { cpu: "1500m", nodeName: "a" }),
    ]);
    expect(names(r)).toEqual(["b"]);
  });

  it("does not check a resource the pod does not request; a full node is Too many pods", () => {
    expect(names(feasible([node("a", { cpu: "0" })], pod("p")))).toEqual(["a"]);
    const r = feasible([node("a", { pods: 1 })], pod("p"), [pod("x", { nodeName: "a" })]);
    expect([...r.diagnosis.keys()]).toEqual(["Too many pods"]);
  });

  it("LeastAllocated prefers the emptier node; scores are (free * 100 / allocatable)", () => {
    expect(leastRequestedScore(1000, 4000)).toBe(75);
    expect(leastRequestedScore(5000, 4000)).toBe(0);
    const r = schedulePod(
      DEFAULT_PROFILE,
      info(pod("p", { cpu: "500m", memory: "1Gi" })),
      cacheOf([node("a"), node("b")], [pod("x", { cpu: "3", memory: "6Gi", nodeName: "a" })]),
      seededRandom(1),
    );
    expect(r).toMatchObject({ ok: true, nodeName: "b" });
  });

  it("BalancedAllocation is (1 - |cpu - mem| / 2) * 100", () => {
    expect(balancedScore(0.5, 0.5)).toBe(100);
    expect(balancedScore(1, 0)).toBe(50);
  });
});

describe("NodeName and NodeUnschedulable", () => {
  it("a pod naming a node fits only that node", () => {
    expect(names(feasible([node("a"), node("b")], pod("p", { nodeName: "b" })))).toEqual(["b"]);
  });

  it("a cordoned node takes no pods unless they tolerate node.kubernetes.io/unschedulable", () => {
    const nodes = [node("a", { unschedulable: true }), node("b")];
    expect(names(feasible(nodes, pod("p")))).toEqual(["b"]);
    const tolerant = pod("q", {
      tolerations: [
        { key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" },
      ],
    });
    expect(names(feasible(nodes, tolerant))).toEqual(["a", "b"]);
    expect([...feasible([nodes[0] as ReturnType<typeof node>], pod("p")).diagnosis.keys()]).toEqual(
      ["node(s) were unschedulable"],
    );
  });
});

describe("NodeAffinity and nodeSelector", () => {
  const nodes = [
    node("a", { labels: { zone: "z1", gen: "3" } }),
    node("b", { labels: { zone: "z2", gen: "5" } }),
    node("c", { labels: {} }),
  ];

  it("nodeSelector needs every label (node(s) didn't match Pod's node affinity/selector)", () => {
    const r = feasible(nodes, pod("p", { nodeSelector: { zone: "z2" } }));
    expect(names(r)).toEqual(["b"]);
    expect(fitErrorMessage(3, r.diagnosis)).toBe(
      "0/3 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.",
    );
  });

  it("required terms are ORed, expressions ANDed; In/NotIn/Exists/DoesNotExist/Gt/Lt", () => {
    const required = (terms: unknown[]) =>
      pod("p", {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms },
          },
        } as never,
      });
    const expr = (key: string, operator: string, values?: string[]) => ({
      matchExpressions: [{ key, operator, ...(values ? { values } : {}) }],
    });
    expect(
      names(feasible(nodes, required([expr("zone", "In", ["z1"]), expr("gen", "Gt", ["4"])]))),
    ).toEqual(["a", "b"]);
    expect(names(feasible(nodes, required([expr("zone", "NotIn", ["z1"])])))).toEqual(["b", "c"]);
    expect(names(feasible(nodes, required([expr("zone", "Exists")])))).toEqual(["a", "b"]);
    expect(names(feasible(nodes, required([expr("zone", "DoesNotExist")])))).toEqual(["c"]);
    expect(names(feasible(nodes, required([expr("gen", "Lt", ["4"])])))).toEqual(["a"]);
    expect(names(feasible(nodes, required([{}])))).toEqual([]); // an empty term matches nothing
    expect(
      names(
        feasible(
          nodes,
          required([{ matchFields: [{ key: "metadata.name", operator: "In", values: ["c"] }] }]),
        ),
      ),
    ).toEqual(["c"]);
  });

  it("Gt/Lt need integers on both sides", () => {
    expect(requirementMatches({ key: "g", operator: "Gt", values: ["1"] }, { g: "x" })).toBe(false);
    expect(requirementMatches({ key: "g", operator: "Gt", values: ["1"] }, { g: "2" })).toBe(true);
  });

  it("preferred terms pull the pod to the node with the highest weight sum", () => {
    const p = pod("p", {
      affinity: {
        nodeAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            {
              weight: 10,
              preference: { matchExpressions: [{ key: "zone", operator: "In", values: ["z1"] }] },
            },
            {
              weight: 80,
              preference: { matchExpressions: [{ key: "zone", operator: "In", values: ["z2"] }] },
            },
          ],
        },
      } as never,
    });
    const r = schedulePod(DEFAULT_PROFILE, info(p), cacheOf(nodes), seededRandom(3));
    expect(r).toMatchObject({ ok: true, nodeName: "b" });
  });
});

describe("TaintToleration", () => {
  it("ToleratesTaint: effect empty matches all, Exists ignores the value, empty key + Exists matches every key", () => {
    const taint = { key: "k", value: "v", effect: "NoSchedule" };
    expect(toleratesTaint({ key: "k", operator: "Equal", value: "v", effect: "" }, taint)).toBe(
      true,
    );
    expect(toleratesTaint({ key: "k", operator: "Equal", value: "w", effect: "" }, taint)).toBe(
      false,
    );
    expect(
      toleratesTaint({ key: "k", operator: "Exists", value: "", effect: "NoSchedule" }, taint),
    ).toBe(true);
    expect(
      toleratesTaint({ key: "k", operator: "Exists", value: "", effect: "NoExecute" }, taint),
    ).toBe(false);
    expect(toleratesTaint({ key: "", operator: "Exists", value: "", effect: "" }, taint)).toBe(
      true,
    );
    expect(toleratesTaint({ key: "", operator: "Equal", value: "v", effect: "" }, taint)).toBe(
      false,
    );
  });

  it("NoSchedule and NoExecute taints reject (node(s) had untolerated taint {k: v}); PreferNoSchedule only scores", () => {
    const nodes = [
      node("a", { taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }] }),
      node("b", { taints: [{ key: "x", value: "y", effect: "NoExecute" }] }),
      node("c", { taints: [{ key: "soft", value: "1", effect: "PreferNoSchedule" }] }),
    ];
    const r = feasible(nodes, pod("p"));
    expect(names(r)).toEqual(["c"]);
    expect(fitErrorMessage(3, r.diagnosis)).toBe(
      "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) had untolerated taint {x: y}.",
    );
    const tolerant = pod("q", {
      tolerations: [{ key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" }],
    });
    expect(names(feasible(nodes, tolerant))).toEqual(["a", "c"]);
    // the untainted-by-PreferNoSchedule node wins the score
    const r2 = schedulePod(DEFAULT_PROFILE, info(tolerant), cacheOf(nodes), seededRandom(1));
    expect(r2).toMatchObject({ ok: true, nodeName: "a" });
  });
});

describe("NodePorts", () => {
  it("a host port held on a node rejects it (node(s) didn't have free ports for the requested pod ports)", () => {
    const r = feasible([node("a"), node("b")], pod("p", { hostPort: 8080 }), [
      pod("x", { hostPort: 8080, nodeName: "a" }),
    ]);
    expect(names(r)).toEqual(["b"]);
    expect([...r.diagnosis.keys()]).toEqual([
      "node(s) didn't have free ports for the requested pod ports",
    ]);
    expect(
      names(
        feasible([node("a")], pod("p", { hostPort: 9090 }), [
          pod("x", { hostPort: 8080, nodeName: "a" }),
        ]),
      ),
    ).toEqual(["a"]);
  });
});

describe("InterPodAffinity", () => {
  const zoned = [
    node("a", { labels: { zone: "z1" } }),
    node("b", { labels: { zone: "z1" } }),
    node("c", { labels: { zone: "z2" } }),
  ];
  const term = (app: string, topologyKey = "zone") => ({
    labelSelector: { matchLabels: { app } },
    topologyKey,
  });

  it("required affinity: only nodes in a domain holding a selected pod", () => {
    const p = pod("p", {
      affinity: {
        podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term("db")] },
      } as never,
    });
    const r = feasible(zoned, p, [pod("db", { labels: { app: "db" }, nodeName: "c" })]);
    expect(names(r)).toEqual(["c"]);
    expect([...r.diagnosis.keys()]).toEqual(["node(s) didn't match pod affinity rules"]);
  });

  it("required affinity: the first pod of a group that selects itself may go anywhere with the key", () => {
    const p = pod("p", {
      labels: { app: "web" },
      affinity: {
        podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term("web")] },
      } as never,
    });
    expect(names(feasible(zoned, p))).toEqual(["a", "b", "c"]);
  });

  it("required anti-affinity: no node in a domain holding a selected pod", () => {
    const p = pod("p", {
      labels: { app: "web" },
      affinity: {
        podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term("web")] },
      } as never,
    });
    const r = feasible(zoned, p, [pod("w1", { labels: { app: "web" }, nodeName: "a" })]);
    expect(names(r)).toEqual(["c"]);
    // only the pod's namespace is searched by default
    const other = pod("w2", { namespace: "other", labels: { app: "web" }, nodeName: "c" });
    expect(names(feasible(zoned, p, [other]))).toEqual(["a", "b", "c"]);
  });

  it("an existing pod's required anti-affinity keeps selected pods out of its domain", () => {
    const guard = pod("g", {
      nodeName: "c",
      affinity: {
        podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term("web")] },
      } as never,
    });
    const r = feasible(zoned, pod("p", { labels: { app: "web" } }), [guard]);
    expect(names(r)).toEqual(["a", "b"]);
    expect([...r.diagnosis.keys()]).toEqual([
      "node(s) didn't satisfy existing pods anti-affinity rules",
    ]);
  });

  it("preferred anti-affinity spreads across hostnames", () => {
    const p = pod("p", {
      labels: { app: "web" },
      affinity: {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 100, podAffinityTerm: term("web", "kubernetes.io/hostname") },
          ],
        },
      } as never,
    });
    const r = schedulePod(
      DEFAULT_PROFILE,
      info(p),
      cacheOf([node("a"), node("b")], [pod("w1", { labels: { app: "web" }, nodeName: "a" })]),
      seededRandom(9),
    );
    expect(r).toMatchObject({ ok: true, nodeName: "b" });
  });
});

describe("selectHost", () => {
  it("takes the best score and breaks ties with the seeded random, reproducibly", () => {
    expect(selectHost([1, 5, 3], seededRandom(1))).toBe(1);
    const picks = new Set<number>();
    for (let seed = 0; seed < 50; seed++) picks.add(selectHost([7, 7, 7], seededRandom(seed)));
    expect(picks).toEqual(new Set([0, 1, 2]));
    expect(selectHost([7, 7, 7], seededRandom(42))).toBe(selectHost([7, 7, 7], seededRandom(42)));
  });
});
