import { describe, expect, it } from "vitest";
import {
  type ApiWrite,
  checkAcknowledgedWrites,
  checkPodBindings,
} from "../../../cmd/chaos/api-invariants.ts";

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
