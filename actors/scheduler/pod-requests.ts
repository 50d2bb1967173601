/**
 * What a pod asks of a node, as kube-scheduler computes it (`resource.PodRequests`): the sum of
 * its containers' requests, or the largest init container's if larger (init containers run one
 * at a time, before the others), plus `spec.overhead`. CPU in millicores, memory in bytes.
 */
import { asArray, asObject, type JsonObject, type JsonValue } from "../api/json.ts";
import { quantityMilliValue, quantityValue } from "../api/quantity.ts";

export interface Resources {
  milliCpu: number;
  memoryBytes: number;
}

export const NO_RESOURCES: Readonly<Resources> = Object.freeze({ milliCpu: 0, memoryBytes: 0 });

/**
 * kube-scheduler scores a pod without requests as if it asked for 100m CPU and 200 MB memory
 * (`schedutil.DefaultMilliCPURequest`, `DefaultMemoryRequest`), so that many such pods still
 * spread; the fit filter uses the real (zero) requests.
 */
export const DEFAULT_SCORING_MILLI_CPU = 100;
export const DEFAULT_SCORING_MEMORY_BYTES = 200 * 1024 * 1024;

function quantityOf(list: JsonObject, name: string, milli: boolean): number {
  const q = list[name];
  if (typeof q !== "string" && typeof q !== "number") return 0;
  return milli ? quantityMilliValue(q) : quantityValue(q);
}

function containerRequests(container: JsonValue): Resources {
  const requests = asObject(asObject(asObject(container).resources).requests);
  return {
    milliCpu: quantityOf(requests, "cpu", true),
    memoryBytes: quantityOf(requests, "memory", false),
  };
}

export function podRequests(pod: JsonObject): Resources {
  const spec = asObject(pod.spec);
  const total = { milliCpu: 0, memoryBytes: 0 };
  for (const c of asArray(spec.containers)) {
    const r = containerRequests(c);
    total.milliCpu += r.milliCpu;
    total.memoryBytes += r.memoryBytes;
  }
  for (const c of asArray(spec.initContainers)) {
    const r = containerRequests(c);
    total.milliCpu = Math.max(total.milliCpu, r.milliCpu);
    total.memoryBytes = Math.max(total.memoryBytes, r.memoryBytes);
  }
  const overhead = asObject(spec.overhead);
  total.milliCpu += quantityOf(overhead, "cpu", true);
  total.memoryBytes += quantityOf(overhead, "memory", false);
  return total;
}

/** The requests used for scoring: zero CPU or memory replaced by the defaults above. */
export function nonZeroRequests(requests: Resources): Resources {
  return {
    milliCpu: requests.milliCpu === 0 ? DEFAULT_SCORING_MILLI_CPU : requests.milliCpu,
    memoryBytes: requests.memoryBytes === 0 ? DEFAULT_SCORING_MEMORY_BYTES : requests.memoryBytes,
  };
}

/** A node's `status.allocatable` (capacity when allocatable is absent). */
export function nodeAllocatable(node: JsonObject): Resources & { pods: number } {
  const status = asObject(node.status);
  const list = asObject(status.allocatable ?? status.capacity);
  const pods = list.pods;
  return {
    milliCpu: quantityOf(list, "cpu", true),
    memoryBytes: quantityOf(list, "memory", false),
    // a node that does not say how many pods it takes is not limited by count
    pods:
      typeof pods === "string" || typeof pods === "number"
        ? quantityValue(pods)
        : Number.POSITIVE_INFINITY,
  };
}
