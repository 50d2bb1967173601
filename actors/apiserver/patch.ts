/**
 * PATCH by content type (the apiserver's patcher): RFC 6902 JSON patch, RFC 7386 merge patch,
 * strategic merge patch; server-side apply is not served yet (415).
 */

import { isJsonObject, type JsonObject, type JsonValue } from "../api/json.ts";
import { applyJsonPatch, JsonPatchError } from "../api/json-patch.ts";
import { applyMergePatch } from "../api/merge-patch.ts";
import { badRequestStatus, unprocessablePatchStatus } from "../api/status.ts";
import {
  applyStrategicMergePatch,
  StrategicMergePatchError,
} from "../api/strategic-merge-patch.ts";
import { ApiError } from "../client/errors.ts";

export const PATCH_TYPES = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
] as const;

function unsupported(contentType: string): ApiError {
  return new ApiError({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: `the body of the request was in an unknown format (${contentType}) - accepted media types include: ${PATCH_TYPES.join(", ")}`,
    reason: "UnsupportedMediaType",
    code: 415,
  });
}

export function applyPatch(
  contentType: string,
  original: JsonObject,
  patch: JsonValue,
  kind: string,
): JsonObject {
  const type = contentType.split(";")[0]?.trim() ?? "";
  let out: JsonValue;
  try {
    if (type === "application/json-patch+json") out = applyJsonPatch(original, patch);
    else if (type === "application/merge-patch+json") out = applyMergePatch(original, patch);
    else if (type === "application/strategic-merge-patch+json")
      out = applyStrategicMergePatch(original, patch, kind);
    else throw unsupported(type);
  } catch (error) {
    if (error instanceof ApiError) throw error;
    if (error instanceof JsonPatchError) {
      if (error.kind === "apply") throw new ApiError(unprocessablePatchStatus());
      throw new ApiError(badRequestStatus(error.message));
    }
    if (error instanceof StrategicMergePatchError)
      throw new ApiError(badRequestStatus(error.message));
    throw new ApiError(badRequestStatus((error as Error).message));
  }
  if (!isJsonObject(out))
    throw new ApiError(badRequestStatus("the patch did not produce an object"));
  return out;
}
