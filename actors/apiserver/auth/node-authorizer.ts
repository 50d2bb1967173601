/**
 * The Node authorizer (plugin/pkg/auth/authorizer/node): a kubelet, `system:node:<name>` in
 * `system:nodes`, may get a Secret, ConfigMap, PersistentVolumeClaim or ServiceAccount only when
 * a pod bound to its node (`spec.nodeName`) names it, and may not list or watch them at all;
 * everything else it leaves to RBAC (`system:node`). Kubernetes keeps a graph of pods and what
 * they reference; bosun asks this server's watch cache for the namespace's pods each time,
 * which costs one cached list per such request (a kubelet makes them only when it starts a pod).
 */
import { asArray, asObject, asString, type JsonObject, type JsonValue } from "../../api/json.ts";
import { type ResourceInfo, resourceByPlural } from "../../api/resources.ts";
import { nodeNameOf } from "../../api/user-info.ts";
import type { ObjectStore } from "../object-store.ts";
import { collectionPrefix } from "../registry-keys.ts";
import {
  type Attributes,
  type Authorizer,
  type AuthorizerAnswer,
  NO_OPINION,
} from "./attributes.ts";

const PODS = resourceByPlural("pods", "") as ResourceInfo;

/** What a pod references, by kind: the objects its node may read. */
export interface PodReferences {
  secrets: Set<string>;
  configmaps: Set<string>;
  persistentvolumeclaims: Set<string>;
  serviceaccounts: Set<string>;
}

function addName(set: Set<string>, value: JsonValue | undefined): void {
  const name = asString(value);
  if (name !== "") set.add(name);
}

function containersOf(spec: JsonObject): JsonValue[] {
  return [
    ...asArray(spec.initContainers),
    ...asArray(spec.containers),
    ...asArray(spec.ephemeralContainers),
  ];
}

/** The objects a pod names (volumes, projected sources, env, envFrom, image pull secrets, its ServiceAccount). */
export function podReferences(pod: JsonObject): PodReferences {
  const spec = asObject(pod.spec);
  const refs: PodReferences = {
    secrets: new Set(),
    configmaps: new Set(),
    persistentvolumeclaims: new Set(),
    serviceaccounts: new Set(),
  };
  addName(refs.serviceaccounts, spec.serviceAccountName ?? "default");
  for (const s of asArray(spec.imagePullSecrets)) addName(refs.secrets, asObject(s).name);
  for (const v of asArray(spec.volumes)) {
    const volume = asObject(v);
    addName(refs.secrets, asObject(volume.secret).secretName);
    addName(refs.configmaps, asObject(volume.configMap).name);
    addName(refs.persistentvolumeclaims, asObject(volume.persistentVolumeClaim).claimName);
    for (const source of asArray(asObject(volume.projected).sources)) {
      addName(refs.secrets, asObject(asObject(source).secret).name);
      addName(refs.configmaps, asObject(asObject(source).configMap).name);
    }
  }
  for (const c of containersOf(spec)) {
    const container = asObject(c);
    for (const e of asArray(container.env)) {
      const from = asObject(asObject(e).valueFrom);
      addName(refs.secrets, asObject(from.secretKeyRef).name);
      addName(refs.configmaps, asObject(from.configMapKeyRef).name);
    }
    for (const e of asArray(container.envFrom)) {
      addName(refs.secrets, asObject(asObject(e).secretRef).name);
      addName(refs.configmaps, asObject(asObject(e).configMapRef).name);
    }
  }
  return refs;
}

type GraphResource = keyof PodReferences;
const GRAPH_RESOURCES = new Set<string>([
  "secrets",
  "configmaps",
  "persistentvolumeclaims",
  "serviceaccounts",
]);

export class NodeAuthorizer implements Authorizer {
  constructor(private readonly store: ObjectStore) {}

  async authorize(a: Attributes): Promise<AuthorizerAnswer> {
    const node = nodeNameOf(a.user);
    if (node === null || a.kind !== "resource" || a.apiGroup !== "") return NO_OPINION;
    if (!GRAPH_RESOURCES.has(a.resource)) return NO_OPINION;
    const resource = a.resource as GraphResource;
    // a kubelet asks for a ServiceAccount's token for its pods (TokenRequest), else it only gets
    const tokenRequest =
      resource === "serviceaccounts" && a.subresource === "token" && a.verb === "create";
    if (!(a.verb === "get" && a.subresource === "") && !tokenRequest)
      return deny(`can only get individual ${a.resource}`, node);
    if (a.name === "" || a.namespace === "")
      return deny(`can only get individual ${a.resource}`, node);
    const pods = await this.store.list(collectionPrefix(PODS, a.namespace), {
      serializable: true,
      cached: true,
    });
    for (const pod of pods.items) {
      if (asString(asObject(pod.spec).nodeName) !== node) continue;
      if (podReferences(pod)[resource].has(a.name))
        return {
          decision: "allow",
          reason: `Node: ${a.resource} ${a.namespace}/${a.name} is referenced by a pod on node ${node}`,
        };
    }
    return deny("no relationship found between the node and this object", node);
  }
}

function deny(why: string, node: string): AuthorizerAnswer {
  return { decision: "deny", reason: `Node: node '${node}': ${why}` };
}
