/**
 * A ResourceHandler over an in-memory ObjectStore, spoken to as the HTTP server speaks to it:
 * method and path in, status code and body out (an ApiError becomes its Status).
 */
import type { JsonObject, JsonValue } from "../../../actors/api/json.ts";
import type { UserInfo } from "../../../actors/api/user-info.ts";
import { Authorization } from "../../../actors/apiserver/auth/authorization.ts";
import type { ObjectStore } from "../../../actors/apiserver/object-store.ts";
import { parseRequestInfo } from "../../../actors/apiserver/request-info.ts";
import { parseRequestOptions } from "../../../actors/apiserver/request-options.ts";
import { ResourceHandler } from "../../../actors/apiserver/resource-handler.ts";
import type { ServiceAllocatorOptions } from "../../../actors/apiserver/service-allocator.ts";
import { ApiError } from "../../../actors/client/errors.ts";
import type { Clock } from "../../../actors/system/clock.ts";

export type RestCall = (
  method: string,
  path: string,
  body?: JsonValue | null,
  contentType?: string,
) => Promise<{ code: number; body: JsonObject }>;

export function restCaller(
  store: ObjectStore,
  clock: Clock,
  allocation: Partial<ServiceAllocatorOptions> = {},
): RestCall {
  const handler = new ResourceHandler(store, clock, undefined, undefined, allocation);
  const call = callerAs(handler);
  return (method, path, body, contentType) => call(undefined, method, path, body, contentType);
}

/** A RestCall that names the user: for a handler with authorization on (`authorizedHandler`). */
export type RestCallAs = (
  user: UserInfo | undefined,
  method: string,
  path: string,
  body?: JsonValue | null,
  contentType?: string,
) => Promise<{ code: number; body: JsonObject }>;

/** A handler with Node,RBAC authorization over `store`. */
export function authorizedHandler(store: ObjectStore, clock: Clock): ResourceHandler {
  return new ResourceHandler(store, clock, undefined, undefined, {}, new Authorization(store));
}

export function callerAs(handler: ResourceHandler): RestCallAs {
  return async (user, method, path, body = null, contentType = "application/json") => {
    const url = new URL(path, "https://bosun");
    const info = parseRequestInfo(method, url.pathname, url.searchParams);
    if (info.type !== "resource") throw new Error(`not a resource path: ${path}`);
    try {
      const out = await handler.handle({
        request: info.request,
        options: parseRequestOptions(url.searchParams),
        accept: undefined,
        contentType,
        body: async () => body,
        ...(user ? { user } : {}),
      });
      return { code: out.code, body: out.body as JsonObject };
    } catch (error) {
      if (error instanceof ApiError)
        return { code: error.status.code ?? 0, body: error.status as unknown as JsonObject };
      throw error;
    }
  };
}
