/**
 * pods/binding (its BindingREST in kube-apiserver; what a scheduler posts): sets a pod's
 * spec.nodeName once, with the PodScheduled condition in the same write. Not an update of the
 * pod — spec.nodeName is immutable to updates, binding is how it is set. A pod already bound is
 * a 409, as kube-apiserver answers; a concurrent write to the pod is not (GuaranteedUpdate).
 */
import { asObject, isJsonObject, type JsonObject, type JsonValue } from "../api/json.ts";
import { rfc3339 } from "../api/meta-time.ts";
import { badRequestStatus, methodNotAllowedStatus } from "../api/status.ts";
import { ApiError } from "../client/errors.ts";
import type { Clock } from "../system/clock.ts";
import { conflictError, guaranteedUpdate } from "./guaranteed-update.ts";
import type { ObjectStore } from "./object-store.ts";
import { dryRunOf } from "./request-options.ts";
import type { HandlerResult, RequestInput } from "./rest-request.ts";

/** A pod's status with PodScheduled=True (kept as it was if it already said so). */
function withPodScheduled(status: JsonObject, wallMs: number): JsonObject {
  const conditions = Array.isArray(status.conditions) ? status.conditions : [];
  const scheduled = (c: JsonValue) => isJsonObject(c) && c.type === "PodScheduled";
  const old = conditions.find(scheduled);
  if (isJsonObject(old) && old.status === "True") return status;
  const condition: JsonObject = {
    type: "PodScheduled",
    status: "True",
    lastProbeTime: null,
    lastTransitionTime: rfc3339(wallMs),
  };
  return {
    ...status,
    conditions:
      old === undefined
        ? [...conditions, condition]
        : conditions.map((c) => (scheduled(c) ? condition : c)),
  };
}

export async function serveBinding(
  store: ObjectStore,
  clock: Clock,
  input: RequestInput,
): Promise<HandlerResult> {
  const req = input.request;
  if (req.verb !== "create")
    throw new ApiError(methodNotAllowedStatus({ group: "", resource: "pods/binding" }, req.verb));
  const binding = asObject(await input.body());
  const node = asObject(binding.target).name;
  if (typeof node !== "string" || node === "")
    throw new ApiError(badRequestStatus("binding.target.name (the node) is required"));
  const pod = { ...req, subresource: null };
  await guaranteedUpdate(store, pod, dryRunOf(input.options), (current) => {
    const spec = asObject(current.object.spec);
    if (typeof spec.nodeName === "string" && spec.nodeName !== "")
      throw conflictError(pod, `pod is already assigned to node "${spec.nodeName}"`);
    return {
      next: {
        ...current.object,
        spec: { ...spec, nodeName: node },
        status: withPodScheduled(asObject(current.object.status), clock.wallMs()),
      },
      precondition: null,
    };
  });
  return {
    code: 201,
    body: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 },
  };
}
