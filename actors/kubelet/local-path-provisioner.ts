/**
 * bosun's local-path provisioner (the idea of rancher's local-path-provisioner), one per node
 * beside its kubelet: a claim of a StorageClass with provisioner `bosun.dev/local-path` that the
 * scheduler placed on this node (`volume.kubernetes.io/selected-node`, WaitForFirstConsumer) gets
 * a directory under the node's data dir, `<rootDir>/local-path/pvc-<claim uid>`, and a `local`
 * PersistentVolume for it, reachable only from this node (node affinity on its hostname) and
 * pre-bound to the claim; the PV controller completes the binding. When the claim is deleted
 * and the volume Released, a `Delete` reclaim policy removes the directory, then the volume.
 *
 * `planLocalPath` is the pure decision; the provisioner runs it whenever a claim, volume or
 * class changes (coalesced on the injected clock) and carries it out.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { asObject, asString, type JsonObject } from "../api/json.ts";
import {
  LOCAL_PATH_PROVISIONER,
  PROVISIONED_BY_ANNOTATION,
  SELECTED_NODE_ANNOTATION,
  STORAGE_PROVISIONER_ANNOTATION,
} from "../api/persistent-volumes.ts";
import { HOSTNAME_LABEL } from "../api/well-known.ts";
import type { ApiClient } from "../client/api-client.ts";
import { isAlreadyExists, isNotFound } from "../client/errors.ts";
import { Informer } from "../client/informer.ts";
import type { ActorSystem } from "../system/actor-system.ts";
import type { Clock, TimerId } from "../system/clock.ts";

/** Changes are gathered this long before one pass (a claim's update comes with its volume's). */
const COALESCE_MS = 20;

export interface LocalPathPlan {
  create: { pv: JsonObject; dir: string }[];
  reclaim: { pv: JsonObject; dir: string }[];
}

const meta = (o: JsonObject) => asObject(o.metadata);

/** What this node's provisioner should make and remove now. Pure. */
export function planLocalPath(
  nodeName: string,
  rootDir: string,
  claims: readonly JsonObject[],
  volumes: readonly JsonObject[],
  classes: readonly JsonObject[],
): LocalPathPlan {
  const plan: LocalPathPlan = { create: [], reclaim: [] };
  const volumeNames = new Set(volumes.map((v) => asString(meta(v).name)));
  for (const pvc of claims) {
    const annotations = asObject(meta(pvc).annotations);
    if (asString(annotations[SELECTED_NODE_ANNOTATION]) !== nodeName) continue;
    if (asString(annotations[STORAGE_PROVISIONER_ANNOTATION]) !== LOCAL_PATH_PROVISIONER) continue;
    if (asString(asObject(pvc.spec).volumeName) !== "" || meta(pvc).deletionTimestamp !== undefined)
      continue;
    const name = `pvc-${asString(meta(pvc).uid)}`;
    if (volumeNames.has(name)) continue;
    const spec = asObject(pvc.spec);
    const className = asString(spec.storageClassName);
    const sc = classes.find((c) => asString(meta(c).name) === className);
    const dir = join(rootDir, "local-path", name);
    plan.create.push({
      dir,
      pv: {
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name, annotations: { [PROVISIONED_BY_ANNOTATION]: LOCAL_PATH_PROVISIONER } },
        spec: {
          capacity: { storage: asString(asObject(asObject(spec.resources).requests).storage) },
          accessModes: spec.accessModes ?? ["ReadWriteOnce"],
          persistentVolumeReclaimPolicy: asString(sc?.reclaimPolicy) || "Delete",
          storageClassName: className,
          local: { path: dir },
          nodeAffinity: {
            required: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: HOSTNAME_LABEL, operator: "In", values: [nodeName] }] },
              ],
            },
          },
          claimRef: {
            kind: "PersistentVolumeClaim",
            apiVersion: "v1",
            namespace: asString(meta(pvc).namespace) || "default",
            name: asString(meta(pvc).name),
            uid: asString(meta(pvc).uid),
          },
        },
      },
    });
  }
  const ours = join(rootDir, "local-path");
  for (const pv of volumes) {
    if (
      asString(asObject(meta(pv).annotations)[PROVISIONED_BY_ANNOTATION]) !== LOCAL_PATH_PROVISIONER
    )
      continue;
    const dir = asString(asObject(asObject(pv.spec).local).path);
    if (!dir.startsWith(`${ours}/`)) continue; // another node's
    if (asString(asObject(pv.status).phase) !== "Released") continue;
    if (asString(asObject(pv.spec).persistentVolumeReclaimPolicy) !== "Delete") continue;
    plan.reclaim.push({ pv, dir });
  }
  return plan;
}

export interface LocalPathProvisionerOptions {
  system: ActorSystem;
  api: ApiClient;
  clock: Clock;
  logger: Logger;
  nodeName: string;
  /** The node's data dir for volumes (the kubelet's rootDir). */
  rootDir: string;
}

export interface LocalPathProvisionerHandle {
  stop(): void;
}

export function startLocalPathProvisioner(
  options: LocalPathProvisionerOptions,
): LocalPathProvisionerHandle {
  const { system, api, clock, nodeName, rootDir } = options;
  const log = options.logger.child({ component: "local-path-provisioner" });
  let timer: TimerId | null = null;
  let running = false;
  let again = false;
  let stopped = false;

  const pass = async () => {
    const plan = planLocalPath(nodeName, rootDir, claims.list(), volumes.list(), classes.list());
    for (const { pv, dir } of plan.create) {
      await mkdir(dir, { recursive: true });
      try {
        await api.create("persistentvolumes", pv);
        log.info({ volume: meta(pv).name, dir }, "provisioned a local volume");
      } catch (error) {
        if (!isAlreadyExists(error)) throw error;
      }
    }
    for (const { pv, dir } of plan.reclaim) {
      await rm(dir, { recursive: true, force: true });
      try {
        await api.delete("persistentvolumes", asString(meta(pv).name));
        log.info({ volume: meta(pv).name, dir }, "reclaimed a local volume");
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  };

  const run = () => {
    timer = null;
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    pass()
      .catch((error: Error) => {
        log.warn({ error: error.message }, "local-path provisioning failed; retrying");
        again = true;
      })
      .finally(() => {
        running = false;
        if (again && !stopped) {
          again = false;
          schedule();
        }
      });
  };
  const schedule = () => {
    if (timer === null && !stopped) timer = clock.setTimeout(run, COALESCE_MS);
  };
  const handlers = { add: schedule, update: schedule, delete: schedule };
  const informer = (resource: string) =>
    Informer.start({
      resource,
      source: api,
      clock,
      system,
      name: `local-path:${resource}`,
      handlers,
    });
  const claims = informer("persistentvolumeclaims");
  const volumes = informer("persistentvolumes");
  const classes = informer("storageclasses.storage.k8s.io");

  return {
    stop: () => {
      stopped = true;
      if (timer !== null) clock.clearTimeout(timer);
      for (const i of [claims, volumes, classes]) i.stop();
    },
  };
}
