/**
 * The ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount), on pod create: a
 * pod without `serviceAccountName` runs as `default`; unless it (or its ServiceAccount) sets
 * `automountServiceAccountToken: false`, it gets the projected volume `kube-api-access-<suffix>`
 * (a bound token refreshed by the kubelet, the cluster CA from the `kube-root-ca.crt`
 * ConfigMap, and the namespace from the downward API) mounted read-only at
 * /var/run/secrets/kubernetes.io/serviceaccount in every container that mounts nothing there.
 * Unlike Kubernetes, a ServiceAccount that does not exist does not refuse the pod: the pod is
 * admitted without the token volume (it would never start, its kubelet's TokenRequest failing
 * for good, in a cluster without the ServiceAccounts controller: `bosun up --no-workloads`).
 * Kubernetes refuses the pod instead; bosun's clusters with a controller manager make `default`
 * as the namespace appears.
 */
import {
  asArray,
  asObject,
  isJsonObject,
  type JsonObject,
  type JsonValue,
} from "../../api/json.ts";

export const SERVICE_ACCOUNT_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount";
/** kube-apiserver's projected token lifetime (3607 s: an hour and a little, so refreshes show). */
export const PROJECTED_TOKEN_SECONDS = 3607;

export function projectedServiceAccountVolume(name: string): JsonObject {
  return {
    name,
    projected: {
      defaultMode: 420,
      sources: [
        { serviceAccountToken: { expirationSeconds: PROJECTED_TOKEN_SECONDS, path: "token" } },
        { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
        {
          downwardAPI: {
            items: [
              {
                path: "namespace",
                fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" },
              },
            ],
          },
        },
      ],
    },
  };
}

/** The pod as admitted; `serviceAccount`: its ServiceAccount object, null when unknown. */
export function admitServiceAccount(
  pod: JsonObject,
  serviceAccount: JsonObject | null,
  volumeSuffix: string,
): JsonObject {
  const spec = { ...asObject(pod.spec) };
  const name =
    typeof spec.serviceAccountName === "string" && spec.serviceAccountName !== ""
      ? spec.serviceAccountName
      : typeof spec.serviceAccount === "string" && spec.serviceAccount !== ""
        ? spec.serviceAccount
        : "default";
  spec.serviceAccountName = name;
  spec.serviceAccount = name;
  const automount =
    typeof spec.automountServiceAccountToken === "boolean"
      ? spec.automountServiceAccountToken
      : serviceAccount?.automountServiceAccountToken !== false;
  if (!automount || serviceAccount === null) return { ...pod, spec };
  const volumeName = `kube-api-access-${volumeSuffix}`;
  const mountsAt = (c: JsonObject) =>
    asArray(c.volumeMounts).some(
      (m) => isJsonObject(m) && m.mountPath === SERVICE_ACCOUNT_MOUNT_PATH,
    );
  const withMount = (c: JsonValue): JsonValue => {
    if (!isJsonObject(c) || mountsAt(c)) return c;
    return {
      ...c,
      volumeMounts: [
        ...asArray(c.volumeMounts),
        { name: volumeName, readOnly: true, mountPath: SERVICE_ACCOUNT_MOUNT_PATH },
      ],
    };
  };
  spec.volumes = [...asArray(spec.volumes), projectedServiceAccountVolume(volumeName)];
  spec.containers = asArray(spec.containers).map(withMount);
  if (Array.isArray(spec.initContainers)) spec.initContainers = spec.initContainers.map(withMount);
  return { ...pod, spec };
}
