/**
 * The NodeRestriction admission plugin (plugin/pkg/admission/noderestriction): whatever RBAC's
 * `system:node` role allows, a kubelet writes only its own Node (and its status) and its own node
 * Lease, and of pods only those bound to it: their status, their eviction and their deletion.
 * It may not create pods (Kubernetes lets it create mirror pods, which bosun has not) nor change
 * a pod's spec.
 */
import { asObject, asString, isJsonObject } from "../../api/json.ts";
import { forbiddenRequestStatus } from "../../api/status.ts";
import { nodeNameOf, type UserInfo } from "../../api/user-info.ts";
import { NODE_LEASE_NAMESPACE } from "../../api/well-known.ts";
import { ApiError } from "../../client/errors.ts";
import type { ObjectStore } from "../object-store.ts";
import { objectKey } from "../registry-keys.ts";
import type { RequestInput } from "../rest-request.ts";

const READ_VERBS = new Set(["get", "list", "watch"]);

export async function admitNodeRequest(
  store: ObjectStore,
  user: UserInfo,
  input: RequestInput,
): Promise<void> {
  const node = nodeNameOf(user);
  const req = input.request;
  if (node === null || READ_VERBS.has(req.verb)) return;
  const r = req.resource;
  const refuse = (name: string, why: string): never => {
    throw new ApiError(
      forbiddenRequestStatus(
        { group: r.group, resource: r.plural },
        name,
        `node "${node}" is not allowed to ${why}`,
      ),
    );
  };
  if (r.group === "" && r.plural === "nodes") {
    let name = req.name ?? "";
    if (req.verb === "create") {
      const body = await input.body();
      name = isJsonObject(body) ? asString(asObject(body.metadata).name) : "";
    }
    if (name !== node) refuse(name, `modify node ${JSON.stringify(name)}`);
    return;
  }
  if (
    r.group === "coordination.k8s.io" &&
    r.plural === "leases" &&
    req.namespace === NODE_LEASE_NAMESPACE
  ) {
    let name = req.name ?? "";
    if (req.verb === "create") {
      const body = await input.body();
      name = isJsonObject(body) ? asString(asObject(body.metadata).name) : "";
    }
    if (name !== node) refuse(name, `modify the node lease of ${JSON.stringify(name)}`);
    return;
  }
  if (r.group === "" && r.plural === "pods") {
    const name = req.name ?? "";
    if (req.verb === "create" && req.subresource === null) refuse(name, "create pods");
    if (req.subresource === null && req.verb !== "delete") refuse(name, "update a pod's spec");
    if (req.subresource !== null && req.subresource !== "status" && req.subresource !== "eviction")
      refuse(name, `${req.verb} pods/${req.subresource}`);
    if (name === "") refuse(name, `${req.verb} pods without a name`);
    const found = await store.read(objectKey(r, req.namespace, name), true);
    // a pod already gone: its delete answers 404 as for anyone
    if (found === null) return;
    const boundTo = asString(asObject(found.object.spec).nodeName);
    if (boundTo !== node)
      refuse(
        name,
        `${req.verb} a pod bound to ${boundTo === "" ? "no node" : `node "${boundTo}"`}`,
      );
  }
}
