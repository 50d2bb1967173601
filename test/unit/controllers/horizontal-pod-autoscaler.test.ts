/**
 * The HPA's replica calculation (kube's replica_calculator.go for a CPU utilization target):
 * desired = ceil(pods × utilization / target) outside a 10 % tolerance; scale-downs only to the
 * highest recommendation of the stabilization window.
 */
import { describe, expect, it } from "vitest";
import { resourceByKind } from "../../../actors/api/resources.ts";
import { toStorageVersion } from "../../../actors/apiserver/hpa-conversion.ts";
import {
  planHorizontalScaling,
  stabilize,
} from "../../../actors/controllers/horizontal-pod-autoscaler.ts";

const pods = (usage: number[], request = 100) =>
  usage.map((u) => ({ usageMilli: u, requestMilli: request }));
const plan = (usage: number[], current = usage.length, target = 50) =>
  planHorizontalScaling({
    currentReplicas: current,
    minReplicas: 1,
    maxReplicas: 10,
    targetUtilization: target,
    pods: pods(usage),
  });

describe("planHorizontalScaling", () => {
  it("scales by the ratio of utilization to target, rounding up", () => {
    expect(plan([200])).toEqual({ recommended: 4, utilization: 200 });
    expect(plan([30, 20, 10])).toEqual({ recommended: 2, utilization: 20 });
  });

  it("stays within the 10 % tolerance, and without metrics", () => {
    expect(plan([54, 52]).recommended).toBe(2);
    expect(
      planHorizontalScaling({
        currentReplicas: 3,
        minReplicas: 1,
        maxReplicas: 5,
        targetUtilization: 50,
        pods: [],
      }),
    ).toEqual({
      recommended: 3,
      utilization: null,
    });
  });
});

describe("stabilize (scale-down window)", () => {
  const history = [
    { atMs: 0, replicas: 5 },
    { atMs: 4_000, replicas: 3 },
  ];
  it("scales down only to the highest recommendation in the window; up at once", () => {
    expect(stabilize(history, 5_000, 10_000, 1, 5)).toBe(5);
    expect(stabilize(history, 12_000, 10_000, 1, 5)).toBe(3);
    expect(stabilize(history, 5_000, 10_000, 7, 5)).toBe(7);
  });
});

describe("autoscaling/v1 → v2 on create", () => {
  it("turns targetCPUUtilizationPercentage into a cpu Utilization metric", () => {
    const v1 = resourceByKind("HorizontalPodAutoscaler", "autoscaling");
    if (!v1) throw new Error("no HPA resource");
    const { resource, object } = toStorageVersion(
      { ...v1, version: "v1" },
      {
        apiVersion: "autoscaling/v1",
        kind: "HorizontalPodAutoscaler",
        spec: { maxReplicas: 3, targetCPUUtilizationPercentage: 50 },
      },
    );
    expect(resource.version).toBe("v2");
    expect(object).toEqual({
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      spec: {
        maxReplicas: 3,
        metrics: [
          {
            type: "Resource",
            resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 50 } },
          },
        ],
      },
    });
  });
});
