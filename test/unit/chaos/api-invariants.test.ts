import { describe, expect, it } from "vitest";
import {
  type ApiWrite,
  checkAcknowledgedWrites,
  checkPodBindings,
  isConverged,
} from "../../../cmd/chaos/api-invariants.ts";
import { leaseOverlaps, parseLogLines, tenuresOf } from "../../../cmd/chaos/lease-safety.ts";

/** The Kubernetes-level verdicts on hand-made write logs and pod histories. */
const w = (kind: ApiWrite["kind"], name: string, acked: boolean, value?: string): ApiWrite => ({
  kind,
  name,
  acked,
  ...(value === undefined ? {} : { value }),
});

describe("acknowledged API writes are reflected at the end", () => {
  it("the last acknowledged update shows; an acknowledged delete leaves nothing", () => {
    const writes = [
      w("create", "a", true, "v0"),
      w("update", "a", true, "v1"),
      w("create", "b", true, "v0"),
      w("delete", "b", true),
    ];
    expect(checkAcknowledgedWrites(writes, new Map([["a", "v1"]]))).toEqual({
      checked: 2,
      anomalies: [],
    });
  });

  it("a write of unknown outcome may or may not have happened", () => {
    const writes = [
      w("create", "a", true, "v0"),
      w("update", "a", false, "v1"),
      w("create", "b", true, "v0"),
      w("delete", "b", false),
    ];
    expect(
      checkAcknowledgedWrites(
        writes,
        new Map([
          ["a", "v0"],
          ["b", "v0"],
        ]),
      ).anomalies,
    ).toEqual([]);
    expect(checkAcknowledgedWrites(writes, new Map([["a", "v1"]])).anomalies).toEqual([]);
  });

  it("a lost acknowledged update, a resurrected delete and a lost create are anomalies", () => {
    const writes = [
      w("create", "a", true, "v0"),
      w("update", "a", true, "v1"),
      w("create", "b", true, "v0"),
      w("delete", "b", true),
      w("create", "c", true, "v0"),
    ];
    const { anomalies } = checkAcknowledgedWrites(
      writes,
      new Map([
        ["a", "v0"],
        ["b", "v0"],
      ]),
    );
    expect(anomalies).toEqual([
      { name: "a", expected: ["v1"], found: "v0" },
      { name: "b", expected: ["(absent)"], found: "v0" },
      { name: "c", expected: ["v0"], found: null },
    ]);
  });
});

describe("no pod is bound to two nodes", () => {
  it("binding once, then status updates on the same node, is fine", () => {
    const history = [
      { uid: "u1", name: "p", nodeName: null, revision: 5 },
      { uid: "u1", name: "p", nodeName: "n2", revision: 6 },
      { uid: "u1", name: "p", nodeName: "n2", revision: 9 },
      { uid: "u2", name: "p", nodeName: "n3", revision: 12 }, // a new pod of the same name
    ];
    expect(checkPodBindings(history)).toEqual({ pods: 2, rebound: [] });
  });

  it("one pod uid whose nodeName moves is reported with both nodes", () => {
    const history = [
      { uid: "u1", name: "p", nodeName: "n1", revision: 7 },
      { uid: "u1", name: "p", nodeName: "n2", revision: 8 },
    ];
    expect(checkPodBindings(history).rebound).toEqual([
      { uid: "u1", name: "p", nodes: ["n1", "n2"] },
    ]);
  });
});

describe("a Deployment converges to its latest template", () => {
  const state = {
    available: 3,
    updated: 3,
    observed: true,
    running: 3,
    stale: 0,
    roll: "window-2",
    pods: "",
  };

  it("only when every running pod is of the latest template and the spec was observed", () => {
    expect(isConverged(state, 3)).toBe(true);
    expect(isConverged({ ...state, stale: 1 }, 3)).toBe(false);
    expect(isConverged({ ...state, observed: false }, 3)).toBe(false);
    expect(isConverged({ ...state, updated: 2 }, 3)).toBe(false);
    expect(isConverged({ ...state, running: 4 }, 3)).toBe(false);
  });
});

describe("lease safety from the members' logs", () => {
  const line = (time: number, pid: number, msg: string) => ({
    time,
    pid,
    msg,
    ...(msg.startsWith("controllers") ? { component: "controller-manager" } : {}),
  });

  it("the cloud controller manager's lines (same statechart, its own Lease) are not the kube controller manager's", () => {
    const ccm = (time: number, msg: string) => ({
      time,
      pid: 9,
      msg,
      component: "cloud-controller-manager",
    });
    const tenures = [
      ...tenuresOf("n1", [line(0, 1, "controllers started"), line(3_000, 1, "x")]),
      ...tenuresOf("n2", [ccm(500, "controllers started"), ccm(2_000, "controllers stopped")]),
    ];
    expect(leaseOverlaps(tenures)).toEqual({ tenures: 1, overlaps: [], maxOverlapMs: 0 });
  });

  it("tenures end at their stop line, or at the last line of a process that was killed", () => {
    const lines = [
      line(100, 1, "controllers started"),
      line(200, 1, "controllers stopped"),
      line(300, 1, "scheduler started leading"),
      line(450, 1, "raft: something else"),
      line(900, 2, "node started"), // restarted: the kill ended pid 1's tenure at its last line
    ];
    expect(tenuresOf("n1", lines)).toEqual([
      { lease: "kube-controller-manager", member: "n1", fromMs: 100, toMs: 200, open: false },
      { lease: "kube-scheduler", member: "n1", fromMs: 300, toMs: 450, open: true },
    ]);
  });

  it("hand-overs in turn are safe; a holder that acts past its successor's start is not", () => {
    const handOver = [
      ...tenuresOf("n1", [
        line(0, 1, "controllers started"),
        line(1_000, 1, "controllers stopped"),
      ]),
      ...tenuresOf("n2", [line(1_050, 2, "controllers started"), line(3_000, 2, "x")]),
      // another Lease at the same time is no conflict
      ...tenuresOf("n3", [line(500, 3, "scheduler started leading"), line(2_000, 3, "x")]),
    ];
    expect(leaseOverlaps(handOver)).toEqual({ tenures: 3, overlaps: [], maxOverlapMs: 0 });
    const skewed = [
      ...tenuresOf("n1", [
        line(0, 1, "controllers started"),
        line(1_400, 1, "controllers stopped"),
      ]),
      ...tenuresOf("n2", [line(800, 2, "controllers started"), line(3_000, 2, "x")]),
    ];
    expect(leaseOverlaps(skewed)).toEqual({
      tenures: 2,
      overlaps: [
        { lease: "kube-controller-manager", members: ["n1", "n2"], atMs: 800, overlapMs: 600 },
      ],
      maxOverlapMs: 600,
    });
  });

  it("reads pino's JSON lines and skips what is not one", () => {
    const text = `{"level":30,"time":5,"pid":7,"component":"controller-manager","msg":"controllers started"}\nnot json\n{"time":6,"pid":7,"component":"controller-manager","msg":"controllers stopped"}\n{"cut short`;
    expect(parseLogLines(text)).toEqual([
      line(5, 7, "controllers started"),
      line(6, 7, "controllers stopped"),
    ]);
  });
});
