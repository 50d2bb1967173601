/**
 * The chaos run's API port over a real ApiClient (the objects as kube-apiserver serves them)
 * and a store client (the pods' history, which only the store keeps).
 */
import type { ApiClient } from "../../actors/client/api-client.ts";
import { type Clock, sleep } from "../../actors/system/clock.ts";
import type { StoreClient } from "../../raft/client/store-client.ts";
import type { WatchResponse } from "../../raft/mvcc/watch-hub.ts";
import type { ApiPort, PodVersion } from "./api-invariants.ts";
import { prefixEnd } from "./store-history.ts";

const NAMESPACE = "default";
const CONFIGMAP_PREFIX = "chaos-cm-";
const POD_PREFIX = "/registry/core/pods/";
const HISTORY_TIMEOUT_MS = 30_000;
const POLL_MS = 20;
/** Most pod versions read back (a short run has a few dozen). */
const MAX_POD_VERSIONS = 100_000;

/** The env var whose value marks a Deployment's template: changing it is a rolling update. */
export const ROLL_ENV = "CHAOS_ROLL";

interface Container {
  name?: string;
  env?: { name?: string; value?: string }[];
}

interface Meta {
  metadata?: { name?: string; uid?: string; deletionTimestamp?: string; generation?: number };
  spec?: { nodeName?: string; containers?: Container[]; template?: { spec?: Meta["spec"] } };
  status?: {
    phase?: string;
    availableReplicas?: number;
    updatedReplicas?: number;
    observedGeneration?: number;
  };
  data?: Record<string, string>;
}

/** A pod spec's roll marker (null: none). */
function rollOf(spec: Meta["spec"]): string | null {
  return spec?.containers?.[0]?.env?.find((e) => e.name === ROLL_ENV)?.value ?? null;
}

export function apiPort(api: ApiClient, store: () => StoreClient, clock: Clock): ApiPort {
  const configMap = (name: string, value: string) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: NAMESPACE },
    data: { value },
  });
  return {
    async createConfigMap(name, value) {
      await api.create("configmaps", configMap(name, value), { namespace: NAMESPACE });
    },
    async updateConfigMap(name, value) {
      // no resourceVersion: an unconditional replace (never retried once it may have been sent)
      await api.update("configmaps", configMap(name, value), { namespace: NAMESPACE });
    },
    async deleteConfigMap(name) {
      await api.delete("configmaps", name, { namespace: NAMESPACE });
    },
    async listConfigMaps() {
      const list = await api.list({ resource: "configmaps", namespace: NAMESPACE });
      const out = new Map<string, string>();
      for (const item of list.items as Meta[]) {
        const name = item.metadata?.name ?? "";
        if (name.startsWith(CONFIGMAP_PREFIX)) out.set(name, item.data?.value ?? "");
      }
      return out;
    },
    async createDeployment(name, replicas) {
      const labels = { app: name };
      await api.create(
        "deployments.apps",
        {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name, namespace: NAMESPACE },
          spec: {
            replicas,
            selector: { matchLabels: labels },
            template: {
              metadata: { labels },
              spec: { containers: [{ name: "pause", image: "bosun/pause" }] },
            },
          },
        },
        { namespace: NAMESPACE },
      );
    },
    async rollDeployment(name, roll) {
      // a merge patch replaces the containers list whole: the template is exactly this one
      const containers = [
        { name: "pause", image: "bosun/pause", env: [{ name: ROLL_ENV, value: roll }] },
      ];
      await api.patch(
        "deployments.apps",
        name,
        "merge",
        { spec: { template: { spec: { containers } } } },
        { namespace: NAMESPACE },
      );
    },
    async deploymentState(name) {
      const d = (await api.get("deployments.apps", name, { namespace: NAMESPACE })) as Meta;
      const pods = await api.list({
        resource: "pods",
        namespace: NAMESPACE,
        labelSelector: `app=${name}`,
      });
      const running = (pods.items as Meta[]).filter(
        (p) => p.status?.phase === "Running" && p.metadata?.deletionTimestamp === undefined,
      );
      const roll = rollOf(d.spec?.template?.spec);
      const pod = (p: Meta & { status?: { conditions?: { type?: string; status?: string }[] } }) =>
        `${p.metadata?.name}@${p.spec?.nodeName ?? "-"}:${p.status?.phase ?? "?"}` +
        `${p.status?.conditions?.find((c) => c.type === "Ready")?.status === "True" ? "+ready" : ""}` +
        `${p.metadata?.deletionTimestamp ? "+deleting" : ""}/${rollOf(p.spec) ?? "none"}`;
      return {
        pods: (pods.items as Meta[]).map(pod).join(" "),
        available: d.status?.availableReplicas ?? 0,
        updated: d.status?.updatedReplicas ?? 0,
        observed: (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1),
        running: running.length,
        stale: running.filter((p) => rollOf(p.spec) !== roll).length,
        roll,
      };
    },
    async podHistory() {
      const client = store();
      try {
        return await readPodHistory(client, clock);
      } finally {
        client.close();
      }
    },
  };
}

async function readPodHistory(client: StoreClient, clock: Clock): Promise<PodVersion[]> {
  const key = Buffer.from(POD_PREFIX);
  const rangeEnd = prefixEnd(key);
  const now = await client.range({ key, rangeEnd, countOnly: true });
  const through = now.header.revision;
  const versions: PodVersion[] = [];
  let seen = 0;
  let canceled: string | null = null;
  const onResponse = (r: WatchResponse) => {
    if (r.kind === "canceled") canceled = r.reason;
    if (r.kind !== "events") return;
    seen = Math.max(seen, r.header.revision);
    for (const e of r.events) {
      seen = Math.max(seen, e.kv.modRevision);
      if (e.type !== "PUT" || versions.length >= MAX_POD_VERSIONS) continue;
      const pod = JSON.parse(Buffer.from(e.kv.value).toString("utf8")) as Meta;
      versions.push({
        uid: pod.metadata?.uid ?? "",
        name: pod.metadata?.name ?? "",
        nodeName: pod.spec?.nodeName ?? null,
        revision: e.kv.modRevision,
      });
    }
  };
  const handle = await client.watch({ key, rangeEnd, startRevision: 1 }, onResponse);
  try {
    const deadline = clock.nowMs() + HISTORY_TIMEOUT_MS;
    // The watch reports progress through the revisions it has replayed; other keys' writes
    // move the store's revision too, so "seen" may stop short: a quiet moment ends the wait.
    let quietSince = clock.nowMs();
    let last = -1;
    while (seen < through) {
      if (canceled !== null) throw new Error(`pod history watch canceled: ${canceled}`);
      if (seen !== last) {
        last = seen;
        quietSince = clock.nowMs();
      } else if (clock.nowMs() - quietSince > 1_000) break;
      if (clock.nowMs() >= deadline) throw new Error("pod history not read in time");
      await sleep(clock, POLL_MS);
    }
  } finally {
    handle.cancel();
  }
  return versions;
}
