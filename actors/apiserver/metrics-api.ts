/**
 * metrics.k8s.io/v1beta1 (what metrics-server serves; `kubectl top`, the HPA): NodeMetrics and
 * PodMetrics made on request from the kubelets' Summary API (stats-protocol.ts), asked over the
 * mesh. Nothing is stored: a get or list asks the kubelets of the nodes in the store (each
 * answer bounded by the source's timeout; a node that does not answer is left out, as
 * metrics-server leaves out a node it cannot scrape).
 *
 * Quantities as metrics-server writes them: CPU in nanocores (`12345n`), memory in KiB (`Ki`).
 */
import { asObject, asString, type JsonObject } from "../api/json.ts";
import { matches, parseLabelSelector } from "../api/label-selector.ts";
import { rfc3339 } from "../api/meta-time.ts";
import { resourceByPlural } from "../api/resources.ts";
import type { KubeletSummary } from "../api/stats-protocol.ts";
import { badRequestStatus, methodNotAllowedStatus, notFoundStatus } from "../api/status.ts";
import { ApiError } from "../client/errors.ts";
import type { ObjectStore } from "./object-store.ts";
import { collectionPrefix } from "./registry-keys.ts";
import type { HandlerResult, RequestInput } from "./rest-request.ts";

export const METRICS_GROUP = "metrics.k8s.io";
const API_VERSION = `${METRICS_GROUP}/v1beta1`;

/** How the API server reaches kubelets' Summary API. */
export interface MetricsSource {
  /** The summaries of `nodes` that answered. */
  summaries(nodes: string[]): Promise<KubeletSummary[]>;
}

const cpu = (nanoCores: number) => `${Math.max(0, Math.round(nanoCores))}n`;
const memory = (bytes: number) => `${Math.max(0, Math.round(bytes / 1024))}Ki`;
const window = (summary: KubeletSummary) => `${Math.round(summary.windowMs / 1000)}s`;

async function listStored(store: ObjectStore, plural: string, namespace: string | null) {
  const r = resourceByPlural(plural, "");
  if (r === undefined) return [];
  const page = await store.list(collectionPrefix(r, namespace), {
    serializable: true,
    cached: true,
  });
  return page.items;
}

function nodeMetrics(node: JsonObject, summary: KubeletSummary): JsonObject {
  const meta = asObject(node.metadata);
  return {
    kind: "NodeMetrics",
    apiVersion: API_VERSION,
    metadata: {
      name: asString(meta.name),
      creationTimestamp: rfc3339(summary.timestampMs),
      labels: asObject(meta.labels),
    },
    timestamp: rfc3339(summary.timestampMs),
    window: window(summary),
    usage: { cpu: cpu(summary.node.cpuNanoCores), memory: memory(summary.node.memoryBytes) },
  };
}

function podMetrics(
  pod: JsonObject,
  usage: KubeletSummary["pods"][number],
  summary: KubeletSummary,
): JsonObject {
  const meta = asObject(pod.metadata);
  return {
    kind: "PodMetrics",
    apiVersion: API_VERSION,
    metadata: {
      name: usage.name,
      namespace: usage.namespace,
      creationTimestamp: rfc3339(summary.timestampMs),
      labels: asObject(meta.labels),
    },
    timestamp: rfc3339(summary.timestampMs),
    window: window(summary),
    containers: usage.containers.map((c) => ({
      name: c.name,
      usage: { cpu: cpu(c.cpuNanoCores), memory: memory(c.memoryBytes) },
    })),
  };
}

/** Serves a get or list of nodes.metrics.k8s.io or pods.metrics.k8s.io. */
export async function serveMetrics(
  store: ObjectStore,
  source: MetricsSource | undefined,
  input: RequestInput,
): Promise<HandlerResult> {
  const req = input.request;
  const r = req.resource;
  if (req.verb !== "get" && req.verb !== "list")
    throw new ApiError(methodNotAllowedStatus({ group: r.group, resource: r.plural }, req.verb));
  if (source === undefined)
    throw new ApiError(badRequestStatus("metrics are read from kubelets, and none is reachable"));
  let selector: ReturnType<typeof parseLabelSelector> | null = null;
  if (input.options.labelSelector) {
    try {
      selector = parseLabelSelector(input.options.labelSelector);
    } catch (error) {
      throw new ApiError(badRequestStatus((error as Error).message));
    }
  }
  const keep = (object: JsonObject) =>
    (req.name === null || asString(asObject(object.metadata).name) === req.name) &&
    (selector === null ||
      matches(selector, asObject(asObject(object.metadata).labels) as Record<string, string>));
  const nodes = await listStored(store, "nodes", null);
  const summaries = await source.summaries(nodes.map((n) => asString(asObject(n.metadata).name)));
  const items: JsonObject[] = [];
  if (r.plural === "nodes") {
    for (const node of nodes.filter(keep)) {
      const summary = summaries.find((s) => s.node.name === asString(asObject(node.metadata).name));
      if (summary) items.push(nodeMetrics(node, summary));
    }
  } else {
    const pods = await listStored(store, "pods", req.namespace);
    const byUid = new Map(pods.map((p) => [asString(asObject(p.metadata).uid), p]));
    for (const summary of summaries)
      for (const usage of summary.pods) {
        const pod = byUid.get(usage.uid);
        if (pod !== undefined && keep(pod)) items.push(podMetrics(pod, usage, summary));
      }
  }
  if (req.name !== null) {
    const found = items[0];
    if (found === undefined)
      throw new ApiError(notFoundStatus({ group: r.group, resource: r.plural }, req.name));
    return { code: 200, body: found };
  }
  return {
    code: 200,
    body: { kind: `${r.kind}List`, apiVersion: API_VERSION, metadata: {}, items },
  };
}
