import { describe, expect, it } from "vitest";
import { Network } from "./network.ts";

describe("smoke", () => {
  it("elects a leader and replicates a proposal to every node", () => {
    const net = new Network(["n1", "n2", "n3"]);
    net.elect("n1");
    expect(net.node("n1").status().role).toBe("leader");
    net.propose("n1", "hello");
    for (const id of ["n1", "n2", "n3"]) expect(net.appliedData(id)).toEqual(["hello"]);
  });

  it("a single-node cluster commits alone", () => {
    const net = new Network(["n1"]);
    net.elect("n1");
    net.propose("n1", "x");
    expect(net.appliedData("n1")).toEqual(["x"]);
  });
});
