/**
 * Pod volumes as plain directories: emptyDir, configMap, secret and projected (ServiceAccount
 * token, ConfigMap and Secret keys, downward API) volumes live under `rootDir/pods/<uid>/volumes/<name>/`, configMap and secret keys
 * written as files (secret data base64-decoded, mode 0600); a persistentVolumeClaim is its
 * bound volume's directory (`local.path` or `hostPath.path`), so its data outlives the pod.
 *
 * The mount convention, since a process cannot see a directory at `mountPath`:
 *   - env `BOSUN_VOLUME_<NAME>` (name upper-cased, `-` and `.` as `_`) is the host directory;
 *   - the container's working directory gets a relative symlink `./<mountPath without leading
 *     "/">` to it, so `cat etc/config/key` (cwd-relative) finds the file.
 */
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { asObject, type JsonObject } from "../api/json.ts";

export interface VolumeSources {
  configMap(namespace: string, name: string): Promise<JsonObject | null>;
  secret(namespace: string, name: string): Promise<JsonObject | null>;
  /** A claim's bound volume as a host directory (`local` or `hostPath`), or null if unbound. */
  claimDirectory?(namespace: string, claim: string): Promise<string | null>;
  /** A token for the pod's ServiceAccount, bound to the pod (TokenRequest). */
  serviceAccountToken?(request: ServiceAccountTokenRequest): Promise<string>;
}

export interface ServiceAccountTokenRequest {
  namespace: string;
  serviceAccount: string;
  podName: string;
  podUid: string;
  audience: string | null;
  expirationSeconds: number;
}

export class VolumeError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = "VolumeError";
  }
}

/** A PersistentVolume's directory on this node: its `local.path` or `hostPath.path`. */
export function claimedVolumeDirectory(pv: JsonObject | null): string | null {
  if (pv === null) return null;
  const spec = asObject(pv.spec);
  const path = asObject(spec.local).path ?? asObject(spec.hostPath).path;
  return typeof path === "string" && path !== "" ? path : null;
}
/** Kubernetes' FailedMount message. */
function mountFailure(volume: string, why: string): string {
  return `MountVolume.SetUp failed for volume "${volume}" : ${why}`;
}

export function volumeEnvName(volume: string): string {
  return `BOSUN_VOLUME_${volume.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

export function volumeDir(podDir: string, volume: string): string {
  return join(podDir, "volumes", volume);
}

/** Writes every volume of `pod` under `podDir`; map of volume name → host directory. */
export async function prepareVolumes(
  pod: JsonObject,
  podDir: string,
  sources: VolumeSources,
): Promise<Map<string, string>> {
  const namespace = String(asObject(pod.metadata).namespace ?? "default");
  const volumes = (asObject(pod.spec).volumes ?? []) as JsonObject[];
  const dirs = new Map<string, string>();
  for (const volume of volumes) {
    const name = String(volume.name);
    if (volume.persistentVolumeClaim) {
      // the claim's volume is a directory of this node already: used in place, never copied
      const claim = String(asObject(volume.persistentVolumeClaim).claimName);
      const bound = await sources.claimDirectory?.(namespace, claim);
      if (!bound)
        throw new VolumeError(
          "FailedMount",
          `persistentvolumeclaim "${claim}" is not bound to a local or hostPath volume`,
        );
      await mkdir(bound, { recursive: true });
      dirs.set(name, bound);
      continue;
    }
    const dir = volumeDir(podDir, name);
    await mkdir(dir, { recursive: true });
    if (volume.configMap) {
      const ref = asObject(volume.configMap);
      const cm = await sources.configMap(namespace, String(ref.name));
      if (!cm) {
        if (ref.optional === true) continue;
        throw new VolumeError(
          "FailedMount",
          mountFailure(name, `configmap "${String(ref.name)}" not found`),
        );
      }
      const data = asObject(cm.data ?? {});
      await writeKeys(dir, data, ref.items as JsonObject[] | undefined, (v) => String(v), 0o644);
    } else if (volume.projected) {
      await writeProjected(pod, dir, asObject(volume.projected), sources);
    } else if (volume.secret) {
      const ref = asObject(volume.secret);
      const secret = await sources.secret(namespace, String(ref.secretName));
      if (!secret) {
        if (ref.optional === true) continue;
        throw new VolumeError(
          "FailedMount",
          mountFailure(name, `secret "${String(ref.secretName)}" not found`),
        );
      }
      const data = asObject(secret.data ?? {});
      await writeKeys(
        dir,
        data,
        ref.items as JsonObject[] | undefined,
        (v) => Buffer.from(String(v), "base64"),
        0o600,
      );
    }
    // emptyDir (and anything else): the empty directory itself
    dirs.set(name, dir);
  }
  return dirs;
}

/** A downward API field of the pod, as a file's content. */
function podField(pod: JsonObject, fieldPath: string): string | null {
  const meta = asObject(pod.metadata);
  const value = {
    "metadata.namespace": meta.namespace,
    "metadata.name": meta.name,
    "metadata.uid": meta.uid,
  }[fieldPath];
  return typeof value === "string" ? value : null;
}

/**
 * A projected volume (Kubernetes' `projected`): ConfigMap and Secret keys, downward API fields
 * and a ServiceAccount token, all in one directory. The token is the kubelet's TokenRequest for
 * the pod's ServiceAccount, bound to the pod; Kubernetes' kubelet refreshes it at 80% of its
 * lifetime, bosun's writes it once at the pod's start (an hour by default).
 */
async function writeProjected(
  pod: JsonObject,
  dir: string,
  projected: JsonObject,
  sources: VolumeSources,
): Promise<void> {
  const namespace = String(asObject(pod.metadata).namespace ?? "default");
  for (const raw of (projected.sources ?? []) as JsonObject[]) {
    const source = asObject(raw);
    if (source.configMap) {
      const ref = asObject(source.configMap);
      const cm = await sources.configMap(namespace, String(ref.name));
      if (!cm) {
        if (ref.optional === true) continue;
        throw new VolumeError("FailedMount", `configmap "${String(ref.name)}" not found`);
      }
      await writeKeys(
        dir,
        asObject(cm.data ?? {}),
        ref.items as JsonObject[] | undefined,
        String,
        0o644,
      );
    } else if (source.secret) {
      const ref = asObject(source.secret);
      const secret = await sources.secret(namespace, String(ref.name));
      if (!secret) {
        if (ref.optional === true) continue;
        throw new VolumeError("FailedMount", `secret "${String(ref.name)}" not found`);
      }
      const decode = (v: unknown) => Buffer.from(String(v), "base64");
      await writeKeys(
        dir,
        asObject(secret.data ?? {}),
        ref.items as JsonObject[] | undefined,
        decode,
        0o600,
      );
    } else if (source.downwardAPI) {
      for (const item of (asObject(source.downwardAPI).items ?? []) as JsonObject[]) {
        const value = podField(pod, String(asObject(item.fieldRef).fieldPath ?? ""));
        const path = String(item.path ?? "");
        if (value === null || path === "" || path.includes("..")) continue;
        await writeKeys(dir, { [path]: value }, undefined, String, 0o644);
      }
    } else if (source.serviceAccountToken) {
      const ref = asObject(source.serviceAccountToken);
      if (!sources.serviceAccountToken)
        throw new VolumeError("FailedMount", "this kubelet cannot request ServiceAccount tokens");
      const spec = asObject(pod.spec);
      const meta = asObject(pod.metadata);
      let token: string;
      try {
        token = await sources.serviceAccountToken({
          namespace,
          serviceAccount: String(spec.serviceAccountName ?? "default"),
          podName: String(meta.name ?? ""),
          podUid: String(meta.uid ?? ""),
          audience: typeof ref.audience === "string" && ref.audience !== "" ? ref.audience : null,
          expirationSeconds: Number(ref.expirationSeconds ?? 3607),
        });
      } catch (error) {
        throw new VolumeError("FailedMount", `failed to fetch token: ${(error as Error).message}`);
      }
      await writeKeys(dir, { [String(ref.path ?? "token")]: token }, undefined, String, 0o600);
    }
  }
}

async function writeKeys(
  dir: string,
  data: JsonObject,
  items: JsonObject[] | undefined,
  decode: (value: unknown) => string | Buffer,
  mode: number,
): Promise<void> {
  const entries: [string, string][] = items
    ? items.map((i) => [String(i.key), String(i.path ?? i.key)])
    : Object.keys(data).map((k) => [k, k]);
  for (const [key, path] of entries) {
    if (!(key in data) || path.includes("..")) continue;
    const file = join(dir, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, decode(data[key]), { mode });
  }
}

/** The cwd-relative link for each mount (see the convention above). */
export async function linkMounts(
  workDir: string,
  mounts: { mountPath: string; hostPath: string }[],
): Promise<void> {
  for (const mount of mounts) {
    const relative = mount.mountPath.replace(/^\/+/, "");
    if (relative === "" || relative.split("/").includes("..")) continue;
    const link = join(workDir, relative);
    await mkdir(dirname(link), { recursive: true });
    await symlink(mount.hostPath, link).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    });
  }
}
