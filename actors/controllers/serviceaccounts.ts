/**
 * The ServiceAccounts controller (kube-controller-manager's `serviceaccount`): every active
 * namespace has a ServiceAccount named `default`, made again if it is deleted. Pods that name
 * no ServiceAccount run as it.
 */
import { asObject, asString } from "../api/json.ts";
import { isAlreadyExists } from "../client/errors.ts";
import type { ObjectKey } from "../client/object-key.ts";
import type { ControllerContext, ControllerDefinition } from "./controller.ts";
import { isBeingDeleted } from "./owner-references.ts";

export const DEFAULT_SERVICE_ACCOUNT = "default";

export function serviceAccountsController(ctx: ControllerContext): ControllerDefinition {
  const { api, cache } = ctx;

  async function reconcile(key: ObjectKey) {
    const ns = cache.get("namespaces", key);
    if (!ns || isBeingDeleted(ns) || asString(asObject(ns.status).phase) === "Terminating")
      return undefined;
    if (cache.get("serviceaccounts", { namespace: key.name, name: DEFAULT_SERVICE_ACCOUNT }))
      return undefined;
    try {
      await api.create(
        "serviceaccounts",
        { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: DEFAULT_SERVICE_ACCOUNT } },
        { namespace: key.name },
      );
    } catch (error) {
      // another reconcile or a user made it first: the informer brings it here
      if (!isAlreadyExists(error)) throw error;
    }
    return undefined;
  }

  return {
    name: "serviceaccount",
    primary: "namespaces",
    watches: [
      {
        resource: "serviceaccounts",
        map: (sa, event) =>
          event === "delete" && asString(asObject(sa.metadata).name) === DEFAULT_SERVICE_ACCOUNT
            ? [{ namespace: "", name: asString(asObject(sa.metadata).namespace) }]
            : [],
      },
    ],
    reconcile,
  };
}
