/**
 * The root CA certificate publisher (kube-controller-manager's `root-ca-cert-publisher`): every
 * active namespace has a ConfigMap `kube-root-ca.crt` whose `ca.crt` is the cluster CA, so a
 * pod's projected ServiceAccount volume can carry it and its program can verify the API server.
 */
import { asObject, asString, type JsonObject } from "../api/json.ts";
import { isAlreadyExists, isConflict, isNotFound } from "../client/errors.ts";
import type { ObjectKey } from "../client/object-key.ts";
import type { ControllerContext, ControllerDefinition } from "./controller.ts";
import { isBeingDeleted } from "./owner-references.ts";

export const ROOT_CA_CONFIG_MAP = "kube-root-ca.crt";
const DESCRIPTION = "kubernetes.io/description";

export function rootCaPublisher(caPem: string) {
  return (ctx: ControllerContext): ControllerDefinition => {
    const { api, cache } = ctx;

    async function reconcile(key: ObjectKey) {
      const ns = cache.get("namespaces", key);
      if (!ns || isBeingDeleted(ns) || asString(asObject(ns.status).phase) === "Terminating")
        return undefined;
      const current = cache.get("configmaps", { namespace: key.name, name: ROOT_CA_CONFIG_MAP });
      if (current && asString(asObject(current.data)["ca.crt"]) === caPem) return undefined;
      const object: JsonObject = {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
          name: ROOT_CA_CONFIG_MAP,
          annotations: {
            [DESCRIPTION]:
              "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.",
          },
        },
        data: { "ca.crt": caPem },
      };
      try {
        if (current)
          await api.update(
            "configmaps",
            { ...current, data: object.data ?? {} },
            { namespace: key.name },
          );
        else await api.create("configmaps", object, { namespace: key.name });
      } catch (error) {
        if (!isAlreadyExists(error) && !isConflict(error) && !isNotFound(error)) throw error;
      }
      return undefined;
    }

    const namespaceOf = (cm: JsonObject): ObjectKey[] =>
      asString(asObject(cm.metadata).name) === ROOT_CA_CONFIG_MAP
        ? [{ namespace: "", name: asString(asObject(cm.metadata).namespace) }]
        : [];

    return {
      name: "root-ca-cert-publisher",
      primary: "namespaces",
      watches: [{ resource: "configmaps", map: namespaceOf }],
      reconcile,
    };
  };
}
