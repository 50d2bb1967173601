/**
 * The scale subresource of deployments and replicasets (their ScaleREST in kube-apiserver): an
 * autoscaling/v1 Scale over `spec.replicas`, read with get and written with update or patch
 * (`kubectl scale`, `kubectl patch --subresource=scale`). A write changes the main object through
 * its own update path, so its generation moves like any spec change, and is a GuaranteedUpdate:
 * only a resourceVersion the Scale pins can make it a 409.
 */
import { asObject, type JsonObject, type JsonValue } from "../api/json.ts";
import { fromLabelSelectorObject, selectorToString } from "../api/label-selector.ts";
import { badRequestStatus, methodNotAllowedStatus } from "../api/status.ts";
import { ApiError } from "../client/errors.ts";
import { guaranteedUpdate, pinnedRevision, readObject } from "./guaranteed-update.ts";
import { prepareUpdate } from "./object-lifecycle.ts";
import type { ObjectStore } from "./object-store.ts";
import { applyPatch } from "./patch.ts";
import { dryRunOf } from "./request-options.ts";
import type { HandlerResult, RequestInput } from "./rest-request.ts";

/** Scale.status.selector: the label selector as a string, as LabelSelectorAsSelector prints it. */
function selectorString(selector: JsonValue | undefined): string {
  try {
    return selectorToString(fromLabelSelectorObject(asObject(selector ?? {})));
  } catch {
    // validation keeps stored selectors valid; an old one that is not shows no selector
    return "";
  }
}

/** What a Scale's metadata keeps of its object's. */
const SCALE_METADATA = ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"];

/** The Scale of a deployment or replicaset. */
export function scaleOf(obj: JsonObject): JsonObject {
  const meta = asObject(obj.metadata);
  const spec = asObject(obj.spec);
  const status = asObject(obj.status);
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: Object.fromEntries(
      SCALE_METADATA.filter((k) => meta[k] !== undefined).map((k) => [k, meta[k] as JsonValue]),
    ),
    spec: { replicas: spec.replicas ?? 0 },
    status: { replicas: status.replicas ?? 0, selector: selectorString(spec.selector) },
  };
}

export async function serveScale(store: ObjectStore, input: RequestInput): Promise<HandlerResult> {
  const req = input.request;
  const r = req.resource;
  if (req.verb === "get")
    return { code: 200, body: scaleOf((await readObject(store, req)).object) };
  if (req.verb !== "update" && req.verb !== "patch")
    throw new ApiError(
      methodNotAllowedStatus({ group: r.group, resource: `${r.plural}/scale` }, req.verb),
    );
  const body = await input.body();
  const main = { ...req, subresource: null };
  const written = await guaranteedUpdate(store, main, dryRunOf(input.options), (current) => {
    const currentScale = scaleOf(current.object);
    const scale =
      req.verb === "patch"
        ? applyPatch(input.contentType, currentScale, body, "Scale")
        : asObject(body);
    const replicas = asObject(scale.spec).replicas;
    if (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0)
      throw new ApiError(badRequestStatus("spec.replicas must be a non-negative integer"));
    const rv = asObject(scale.metadata).resourceVersion;
    const precondition =
      req.verb === "patch"
        ? pinnedRevision(rv, asObject(currentScale.metadata).resourceVersion)
        : pinnedRevision(rv);
    return {
      next: prepareUpdate(
        r,
        { ...current.object, spec: { ...asObject(current.object.spec), replicas } },
        current.object,
        req.namespace,
        null,
      ),
      precondition,
    };
  });
  return { code: 200, body: scaleOf(written) };
}
