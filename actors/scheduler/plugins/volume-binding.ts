/**
 * VolumeBinding (kube-scheduler `plugins/volumebinding`): pods go where their data is, and a
 * claim binds where its pod can run.
 * - PreFilter: every claim the pod mounts must exist; a claim not yet bound must be of a
 *   `WaitForFirstConsumer` class (an unbound `Immediate` claim is the PV controller's to bind
 *   first).
 * - Filter: a bound claim's volume must be reachable from the node (its `nodeAffinity`: `node(s)
 *   had volume node affinity conflict`); an unbound one needs a free volume of its class that is
 *   reachable from the node, or a class whose provisioner makes one (`node(s) didn't find
 *   available persistent volumes to bind`).
 * - Reserve / Unreserve: the chosen free volumes are reserved in the scheduler's volume cache,
 *   so the next pod does not count on them too.
 * - PreBind: writes the decision — a reserved volume gets the claim as its `claimRef` (the PV
 *   controller completes the binding), a claim to provision gets the node
 *   (`volume.kubernetes.io/selected-node`: the provisioner makes its volume there) — then
 *   waits until every claim is bound (at most BIND_TIMEOUT_MS) before the pod is bound.
 */
import { asArray, asObject, asString, type JsonObject } from "../../api/json.ts";
import {
  classOf,
  NO_PROVISIONER,
  SELECTED_NODE_ANNOTATION,
  smallestFitting,
  volumeReachableFrom,
} from "../../api/persistent-volumes.ts";
import type { ObjectApi } from "../../client/api-client.ts";
import {
  type CycleState,
  FITS,
  type FilterPlugin,
  type FrameworkHandle,
  PRE_FILTER_SUCCESS,
  type PreBindPlugin,
  type PreFilterPlugin,
  type ReservePlugin,
} from "../framework.ts";
import type { NodeInfo, PodInfo } from "../node-info.ts";
import { VolumeCache } from "../volume-cache.ts";

export const ERR_VOLUME_NODE_CONFLICT = "node(s) had volume node affinity conflict";
export const ERR_NO_VOLUME_TO_BIND = "node(s) didn't find available persistent volumes to bind";
export const ERR_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims";
/** How long PreBind waits for the claims to be bound (kube's bindTimeoutSeconds is 600). */
export const BIND_TIMEOUT_MS = 60_000;
const STATE_KEY = "VolumeBinding";
/** The clock of a storage-less handle's cache: nothing ever waits on it. */
const NO_CLOCK = {
  nowMs: () => 0,
  wallMs: () => 0,
  setTimeout: () => 0,
  clearTimeout: () => undefined,
};

interface ClaimState {
  key: string;
  claim: JsonObject;
  /** Its volume when bound. */
  volume: JsonObject | null;
}

interface PodVolumes {
  claims: ClaimState[];
  /** Reserve's decision: claim key → the free volume chosen, or "provision". */
  decisions: Map<string, string>;
}

function claimNamesOf(pod: PodInfo): string[] {
  const names: string[] = [];
  for (const v of asArray(asObject(pod.pod.spec).volumes)) {
    const claim = asObject(asObject(v).persistentVolumeClaim).claimName;
    if (typeof claim === "string" && claim !== "") names.push(claim);
  }
  return names;
}

function provisions(volumes: VolumeCache, claim: JsonObject): boolean {
  const provisioner = asString(volumes.storageClass(classOf(claim))?.provisioner);
  return provisioner !== "" && provisioner !== NO_PROVISIONER;
}

/** Free volumes that fit `claim` and are reachable from `node`, not reserved for another. */
function freeVolumes(volumes: VolumeCache, c: ClaimState, node: NodeInfo): JsonObject[] {
  return [...volumes.allVolumes()].filter((pv) => {
    const holder = volumes.reservedFor(asString(asObject(pv.metadata).name));
    return (
      (holder === undefined || holder === c.key) && volumeReachableFrom(pv, node.name, node.labels)
    );
  });
}

export function volumeBinding(
  handle: FrameworkHandle,
): PreFilterPlugin & FilterPlugin & ReservePlugin & PreBindPlugin {
  // a handle without storage (tests, benchmarks): no claims, and nothing to write with
  const volumes = handle.volumes ?? new VolumeCache(NO_CLOCK);
  const api: ObjectApi | null = handle.api ?? null;
  const stateOf = (state: CycleState) => state.read<PodVolumes>(STATE_KEY);
  return {
    name: "VolumeBinding",
    preFilter(pod, _cache, state) {
      const names = claimNamesOf(pod);
      if (names.length === 0) return PRE_FILTER_SUCCESS;
      const claims: ClaimState[] = [];
      for (const name of names) {
        const claim = volumes.claim(pod.namespace, name);
        if (claim === undefined)
          return { code: "Unschedulable", reason: `persistentvolumeclaim "${name}" not found` };
        if (asObject(claim.metadata).deletionTimestamp !== undefined)
          return {
            code: "Unschedulable",
            reason: `persistentvolumeclaim "${name}" is being deleted`,
          };
        const volumeName = asString(asObject(claim.spec).volumeName);
        const volume = volumeName === "" ? null : (volumes.volume(volumeName) ?? null);
        if (volume === null) {
          const mode = asString(volumes.storageClass(classOf(claim))?.volumeBindingMode);
          if (mode !== "WaitForFirstConsumer")
            return { code: "Unschedulable", reason: ERR_UNBOUND_IMMEDIATE };
        }
        claims.push({ key: `${pod.namespace}/${name}`, claim, volume });
      }
      state.write(STATE_KEY, { claims, decisions: new Map() } satisfies PodVolumes);
      return PRE_FILTER_SUCCESS;
    },
    prepareFilter(_pod, _cache, state) {
      const pv = stateOf(state);
      if (pv === undefined) return null;
      const conflict = [ERR_VOLUME_NODE_CONFLICT];
      const none = [ERR_NO_VOLUME_TO_BIND];
      return (node) => {
        for (const c of pv.claims) {
          if (c.volume !== null) {
            if (!volumeReachableFrom(c.volume, node.name, node.labels)) return conflict;
          } else if (
            smallestFitting(freeVolumes(volumes, c, node), c.claim) === null &&
            !provisions(volumes, c.claim)
          )
            return none;
        }
        return FITS;
      };
    },
    reserve(_pod, nodeName, state) {
      const pv = stateOf(state);
      if (pv === undefined) return null;
      const node = handle.cache.node(nodeName);
      if (node === undefined) return `node ${nodeName} is gone`;
      for (const c of pv.claims) {
        if (c.volume !== null) continue;
        const chosen = smallestFitting(freeVolumes(volumes, c, node), c.claim);
        if (chosen !== null) {
          const name = asString(asObject(chosen.metadata).name);
          if (!volumes.reserve(name, c.key)) return `volume ${name} was taken meanwhile`;
          pv.decisions.set(c.key, name);
        } else if (provisions(volumes, c.claim)) pv.decisions.set(c.key, "provision");
        else return ERR_NO_VOLUME_TO_BIND;
      }
      return null;
    },
    unreserve(_pod, _nodeName, state) {
      const pv = stateOf(state);
      if (pv === undefined) return;
      for (const [claim, decision] of pv.decisions)
        if (decision !== "provision") volumes.release(decision, claim);
      pv.decisions.clear();
    },
    async preBind(pod, nodeName, state) {
      const pv = stateOf(state);
      if (pv === undefined || pv.claims.every((c) => c.volume !== null)) return;
      if (api === null) throw new Error("VolumeBinding needs the API to bind claims");
      for (const c of pv.claims) {
        const decision = pv.decisions.get(c.key);
        if (decision === undefined) continue;
        const meta = asObject(c.claim.metadata);
        if (decision === "provision") {
          const current = await api.get("persistentvolumeclaims", asString(meta.name), {
            namespace: pod.namespace,
          });
          const m = asObject(current.metadata);
          await api.update(
            "persistentvolumeclaims",
            {
              ...current,
              metadata: {
                ...m,
                annotations: { ...asObject(m.annotations), [SELECTED_NODE_ANNOTATION]: nodeName },
              },
            },
            { namespace: pod.namespace },
          );
        } else {
          const volume = await api.get("persistentvolumes", decision);
          await api.update("persistentvolumes", {
            ...volume,
            spec: {
              ...asObject(volume.spec),
              claimRef: {
                kind: "PersistentVolumeClaim",
                apiVersion: "v1",
                namespace: pod.namespace,
                name: asString(meta.name),
                uid: asString(meta.uid),
              },
            },
          });
        }
      }
      const bound = () =>
        pv.claims.every((c) => {
          const claim = volumes.claim(pod.namespace, asString(asObject(c.claim.metadata).name));
          return asString(asObject(claim?.status).phase) === "Bound";
        });
      if (!(await volumes.waitUntil(bound, BIND_TIMEOUT_MS)))
        throw new Error(`the pod's claims were not bound within ${BIND_TIMEOUT_MS} ms`);
    },
  };
}
