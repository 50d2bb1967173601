/**
 * HorizontalPodAutoscalers are stored as autoscaling/v2; `kubectl autoscale` creates them
 * through autoscaling/v1 (as a protobuf body), which this converts on the way in, as
 * kube-apiserver converts every version to its storage version. v1's single CPU target
 * (`targetCPUUtilizationPercentage`) is v2's `Resource` metric `cpu` with a `Utilization`
 * target. A create through v1 is answered in v1 (`fromStorageVersion`); other reads through
 * v1 return the stored v2 form (kubectl reads HPAs through v2, the preferred version). Pure.
 */
import { asObject, type JsonObject } from "../api/json.ts";
import { RESOURCES, type ResourceInfo } from "../api/resources.ts";

const HPA_V2 = RESOURCES.find(
  (r) => r.group === "autoscaling" && r.version === "v2" && r.plural === "horizontalpodautoscalers",
);

/** The resource and object to store for a create through `r`. */
export function toStorageVersion(
  r: ResourceInfo,
  object: JsonObject,
): { resource: ResourceInfo; object: JsonObject } {
  if (r.group !== "autoscaling" || r.version !== "v1" || HPA_V2 === undefined)
    return { resource: r, object };
  const spec = asObject(object.spec);
  const { targetCPUUtilizationPercentage: target, ...rest } = spec;
  return {
    resource: HPA_V2,
    object: {
      ...object,
      apiVersion: "autoscaling/v2",
      spec: {
        ...rest,
        ...(typeof target === "number"
          ? {
              metrics: [
                {
                  type: "Resource",
                  resource: {
                    name: "cpu",
                    target: { type: "Utilization", averageUtilization: target },
                  },
                },
              ],
            }
          : {}),
      },
    },
  };
}

/** The stored object as the version `r` names (autoscaling/v1 HPAs back from v2). */
export function fromStorageVersion(r: ResourceInfo, object: JsonObject): JsonObject {
  if (r.group !== "autoscaling" || r.version !== "v1") return object;
  const { metrics, behavior: _behavior, ...spec } = asObject(object.spec);
  const cpu = ((metrics ?? []) as JsonObject[])
    .map((m) => asObject(asObject(m.resource).target).averageUtilization)
    .find((u) => typeof u === "number");
  return {
    ...object,
    apiVersion: "autoscaling/v1",
    spec: { ...spec, ...(cpu !== undefined ? { targetCPUUtilizationPercentage: cpu } : {}) },
  };
}
