/**
 * The kubelet's Summary API (its `/stats/summary`, the part metrics-server reads), over the mesh:
 *
 *   kubelet.stats {} → KubeletSummary
 *
 * CPU as a rate (nanocores, from two samples of the container's cumulative CPU time) and memory
 * as the working set in bytes, per container, at the sample's time. The API server's
 * metrics.k8s.io (`kubectl top`) and the HPA read it.
 */

export interface ContainerUsage {
  name: string;
  /** CPU used, in billionths of a core, over the last sample window. */
  cpuNanoCores: number;
  memoryBytes: number;
}

export interface PodUsage {
  namespace: string;
  name: string;
  uid: string;
  containers: ContainerUsage[];
}

export interface KubeletSummary {
  node: {
    name: string;
    /** The sum of its pods' usage (nodes of one host share the machine). */
    cpuNanoCores: number;
    memoryBytes: number;
  };
  pods: PodUsage[];
  /** When the samples were taken (wall clock, ms). */
  timestampMs: number;
  /** The window the CPU rates are over. */
  windowMs: number;
}
