/**
 * `bosun status`'s host-lock lines: which node's proxy holds the cluster-IP listeners and which
 * node serves the local cloud's load balancers, read off the competing actors' states.
 */
import { expect, it } from "vitest";
import type { NodeStatus } from "../../../cmd/node/introspection.ts";
import {
  clusterIPHolderLine,
  loadBalancerHolderLine,
  type NodeReport,
} from "../../../cmd/status.ts";

function report(id: string, actors: [string, unknown][]): NodeReport {
  const status = {
    actors: actors.map(([name, state]) => ({ address: `${id}/${name}`, state })),
  } as unknown as NodeStatus; // only `actors` is read
  return {
    node: { id, host: "127.0.0.1", port: 7100, pid: 1, logFile: "", dataDir: "" },
    status,
    error: null,
  };
}

it("the data plane holding (a nested state) is named; the others say what they do", () => {
  const reports = [
    report("n1", [
      ["cloud-lb-data-plane", { holding: "watching" }],
      ["proxy", { serving: "standby" }],
    ]),
    report("n2", [
      ["cloud-lb-data-plane", "standby"],
      ["proxy", { serving: "holding" }],
    ]),
    report("n3", []),
  ];
  expect(loadBalancerHolderLine(reports)).toBe(
    "local cloud load balancers: held by n1 (n2 standby)",
  );
  expect(clusterIPHolderLine(reports)).toBe(
    "cluster-IP listeners: held by n2 (n1 serving.standby)",
  );
});

it("no data plane anywhere (no cloud): no line", () => {
  expect(loadBalancerHolderLine([report("n1", [["proxy", "syncing"]])])).toBeNull();
});
