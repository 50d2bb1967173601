/**
 * Writes the bootstrap RBAC policy (bootstrap-policy.ts) into the store: each ClusterRole and
 * ClusterRoleBinding that is missing, as kube-apiserver's `rbac/bootstrap-roles` hook does on
 * every start. Existing objects are kept as they are (an operator's edits win), and a create that
 * another API server made first is fine.
 */
import { randomUUID } from "node:crypto";
import { asObject, asString, type JsonObject } from "../../api/json.ts";
import { rfc3339 } from "../../api/meta-time.ts";
import { type ResourceInfo, resourceByPlural } from "../../api/resources.ts";
import type { ObjectStore } from "../object-store.ts";
import { objectKey } from "../registry-keys.ts";
import {
  bootstrapClusterRoleBindings,
  bootstrapClusterRoles,
  RBAC_GROUP,
} from "./bootstrap-policy.ts";

const CLUSTER_ROLES = resourceByPlural("clusterroles", RBAC_GROUP) as ResourceInfo;
const CLUSTER_ROLE_BINDINGS = resourceByPlural("clusterrolebindings", RBAC_GROUP) as ResourceInfo;

export async function ensureBootstrapPolicy(store: ObjectStore, wallMs: number): Promise<void> {
  const write = async (r: ResourceInfo, objects: JsonObject[]) => {
    for (const obj of objects) {
      const name = asString(asObject(obj.metadata).name);
      const key = objectKey(r, null, name);
      if ((await store.get(key, false)) !== null) continue;
      await store.create(
        key,
        {
          ...obj,
          metadata: {
            ...asObject(obj.metadata),
            uid: randomUUID(),
            creationTimestamp: rfc3339(wallMs),
          },
        },
        null,
      );
    }
  };
  await write(CLUSTER_ROLES, bootstrapClusterRoles());
  await write(CLUSTER_ROLE_BINDINGS, bootstrapClusterRoleBindings());
}
