/**
 * PodTopologySpread and ImageLocality (kube-scheduler `plugins/podtopologyspread`,
 * `plugins/imagelocality`): hard constraints reject a node whose domain would be too far ahead
 * (or that lacks the key); soft ones prefer the emptier domain; minDomains counts missing
 * domains as empty; images already on a node draw the pod there.
 */
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { DEFAULT_PROFILE } from "../../../actors/scheduler/default-profile.ts";
import {
  findFeasibleNodes,
  schedulePod,
  seededRandom,
} from "../../../actors/scheduler/framework.ts";
import { cacheOf, info, node, pod } from "./cluster-fixture.ts";

const zoned = (name: string, zone: string) => node(name, { labels: { zone } });
const nodes = [zoned("a1", "a"), zoned("a2", "a"), zoned("b1", "b"), node("nozone")];

function spreadPod(name: string, when: string, extra: JsonObject = {}): JsonObject {
  const p = pod(name, { labels: { app: "web" } });
  (p.spec as JsonObject).topologySpreadConstraints = [
    {
      maxSkew: 1,
      topologyKey: "zone",
      whenUnsatisfiable: when,
      labelSelector: { matchLabels: { app: "web" } },
      ...extra,
    },
  ];
  return p;
}

const web = (name: string, nodeName: string) => pod(name, { nodeName, labels: { app: "web" } });

describe("PodTopologySpread", () => {
  it("DoNotSchedule: the domain ahead by maxSkew, and nodes without the key, are rejected", () => {
    const cache = cacheOf(nodes, [web("w1", "a1")]);
    const { feasible, diagnosis } = findFeasibleNodes(
      DEFAULT_PROFILE,
      info(spreadPod("p", "DoNotSchedule")),
      cache,
    );
    expect(feasible.map((n) => n.name)).toEqual(["b1"]);
    expect([...diagnosis]).toEqual([
      ["node(s) didn't match pod topology spread constraints", 2],
      ["node(s) didn't match pod topology spread constraints (missing required label)", 1],
    ]);
  });

  it("minDomains beyond the domains there are: the minimum counts as 0", () => {
    const cache = cacheOf(nodes, [web("w1", "b1")]);
    const p = spreadPod("p", "DoNotSchedule", { minDomains: 3 });
    const feasible = findFeasibleNodes(DEFAULT_PROFILE, info(p), cache).feasible;
    // zone b has 1: with a global minimum of 0, adding a second there would be skew 2
    expect(feasible.map((n) => n.name)).toEqual(["a1", "a2"]);
  });

  it("ScheduleAnyway: the emptier zone wins the score", () => {
    const cache = cacheOf(nodes, [web("w1", "a1"), web("w2", "a2")]);
    const r = schedulePod(
      DEFAULT_PROFILE,
      info(spreadPod("p", "ScheduleAnyway")),
      cache,
      seededRandom(1),
    );
    expect(r).toMatchObject({ ok: true, nodeName: "b1" });
  });
});

describe("ImageLocality", () => {
  it("a node that has the pod's big image is preferred", () => {
    const withImage = node("cached");
    (withImage.status as JsonObject).images = [
      { names: ["docker.io/library/postgres:16"], sizeBytes: 400 * 1024 * 1024 },
    ];
    const cache = cacheOf([node("cold"), withImage]);
    const p = pod("db");
    ((p.spec as JsonObject).containers as JsonObject[])[0]!.image = "postgres:16";
    expect(schedulePod(DEFAULT_PROFILE, info(p), cache, seededRandom(1))).toMatchObject({
      nodeName: "cached",
    });
  });
});
