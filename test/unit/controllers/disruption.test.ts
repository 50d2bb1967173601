/**
 * The disruption controller's status plan (kube's `disruption` controller): expected pods are
 * the selected live pods, healthy ones the Ready among them; minAvailable and maxUnavailable,
 * as numbers or percentages, give the desired healthy count and so the disruptions allowed.
 */
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { planPdbStatus } from "../../../actors/controllers/disruption.ts";

const pod = (name: string, ready: boolean, labels = { app: "web" }): JsonObject => ({
  metadata: { name, namespace: "default", labels },
  status: {
    phase: "Running",
    conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
  },
});

const pdb = (spec: JsonObject): JsonObject => ({
  metadata: { name: "web", namespace: "default", generation: 2 },
  spec: { selector: { matchLabels: { app: "web" } }, ...spec },
});

const pods = [
  pod("a", true),
  pod("b", true),
  pod("c", true),
  pod("d", false),
  pod("x", true, { app: "db" }),
];

describe("planPdbStatus", () => {
  it("minAvailable as a number", () => {
    expect(planPdbStatus(pdb({ minAvailable: 2 }), pods, 0)).toMatchObject({
      observedGeneration: 2,
      expectedPods: 4,
      currentHealthy: 3,
      desiredHealthy: 2,
      disruptionsAllowed: 1,
      conditions: [{ type: "DisruptionAllowed", status: "True", reason: "SufficientPods" }],
    });
  });

  it("minAvailable as a percentage rounds up; maxUnavailable leaves the rest", () => {
    expect(planPdbStatus(pdb({ minAvailable: "50%" }), pods, 0)).toMatchObject({
      desiredHealthy: 2,
      disruptionsAllowed: 1,
    });
    expect(planPdbStatus(pdb({ maxUnavailable: 1 }), pods, 0)).toMatchObject({
      desiredHealthy: 3,
      disruptionsAllowed: 0,
      conditions: [{ status: "False", reason: "InsufficientPods" }],
    });
  });

  it("pods being deleted or finished are not expected", () => {
    const deleting = {
      ...pod("a", true),
      metadata: { name: "a", namespace: "default", labels: { app: "web" }, deletionTimestamp: "x" },
    };
    const done = { ...pod("b", true), status: { phase: "Succeeded" } };
    expect(
      planPdbStatus(pdb({ minAvailable: 1 }), [deleting, done, pod("c", true)], 0),
    ).toMatchObject({
      expectedPods: 1,
      currentHealthy: 1,
      disruptionsAllowed: 0,
    });
  });
});
