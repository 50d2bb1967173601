/**
 * The scheduler uses the zones the cloud gives (issue 14, item 5): Nodes as the cloud node
 * controller leaves them (labels from the local provider's InstancesV2, zones from its config)
 * spread pods across `topology.kubernetes.io/zone` under a topology spread constraint, and keep
 * them apart under zone anti-affinity.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { ZONE_LABEL } from "../../../actors/api/well-known.ts";
import { initializedNode } from "../../../actors/cloud/cloud-node-controller.ts";
import { LocalCloudState } from "../../../actors/cloud/local/local-cloud-state.ts";
import { LocalCloudProvider } from "../../../actors/cloud/local/local-provider.ts";
import { DEFAULT_PROFILE } from "../../../actors/scheduler/default-profile.ts";
import {
  findFeasibleNodes,
  schedulePod,
  seededRandom,
} from "../../../actors/scheduler/framework.ts";
import { cacheOf, info, node, pod } from "../scheduler/cluster-fixture.ts";

let dir: string;
let cloud: LocalCloudProvider;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "bosun-zones-"));
  const state = new LocalCloudState(dir);
  state.writeConfig({ zones: { n1: "zone-a", n2: "zone-a", n3: "zone-b" } });
  for (const id of ["n1", "n2", "n3"])
    state.putInstance({ id, pid: process.pid, startTicks: null, address: "127.0.0.1" });
  cloud = new LocalCloudProvider(state);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function cloudNodes(): Promise<JsonObject[]> {
  const instances = cloud.instancesV2();
  return Promise.all(
    ["n1", "n2", "n3"].map(async (id) => {
      const n = node(id);
      return initializedNode(n, await instances.instanceMetadata(n));
    }),
  );
}

const web = (name: string, nodeName: string) => pod(name, { nodeName, labels: { app: "web" } });

it("topology spread on topology.kubernetes.io/zone sends the next pod to the emptier zone", async () => {
  const nodes = await cloudNodes();
  expect(nodes.map((n) => ((n.metadata as JsonObject).labels as JsonObject)[ZONE_LABEL])).toEqual([
    "zone-a",
    "zone-a",
    "zone-b",
  ]);
  const p = pod("p", { labels: { app: "web" } });
  (p.spec as JsonObject).topologySpreadConstraints = [
    {
      maxSkew: 1,
      topologyKey: ZONE_LABEL,
      whenUnsatisfiable: "DoNotSchedule",
      labelSelector: { matchLabels: { app: "web" } },
    },
  ];
  const cache = cacheOf(nodes, [web("w1", "n1")]);
  expect(findFeasibleNodes(DEFAULT_PROFILE, info(p), cache).feasible.map((n) => n.name)).toEqual([
    "n3",
  ]);
});

it("zone anti-affinity keeps a second replica out of the first one's zone", async () => {
  const p = pod("p", { labels: { app: "web" } });
  (p.spec as JsonObject).affinity = {
    podAntiAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [
        { topologyKey: ZONE_LABEL, labelSelector: { matchLabels: { app: "web" } } },
      ],
    },
  };
  const cache = cacheOf(await cloudNodes(), [web("w1", "n3")]);
  expect(schedulePod(DEFAULT_PROFILE, info(p), cache, seededRandom(1))).toMatchObject({
    ok: true,
  });
  const feasible = findFeasibleNodes(DEFAULT_PROFILE, info(p), cache).feasible.map((n) => n.name);
  expect(feasible.sort()).toEqual(["n1", "n2"]);
});
