/**
 * TokenRequest (`serviceaccounts/<name>/token`, authentication.k8s.io/v1): a create that stores
 * nothing and answers with a signed token for the ServiceAccount (`kubectl create token`, and
 * the kubelet for its pods' projected volumes), for the audiences asked (default: the API
 * server's, the issuer), for `expirationSeconds` (default 1 h, at least 10 min, capped at 48 h),
 * and bound to a pod when `boundObjectRef` names one. And the other half: the bearer-token
 * authenticator that accepts these tokens while what they name still exists.
 */
import { asArray, asObject, asString, isJsonObject, type JsonObject } from "../../api/json.ts";
import { rfc3339 } from "../../api/meta-time.ts";
import { type ResourceInfo, resourceByPlural } from "../../api/resources.ts";
import { badRequestStatus, notFoundStatus } from "../../api/status.ts";
import { serviceAccountUser, type UserInfo } from "../../api/user-info.ts";
import { ApiError } from "../../client/errors.ts";
import type { Clock } from "../../system/clock.ts";
import type { TokenAuthenticator } from "../authn.ts";
import type { ObjectStore } from "../object-store.ts";
import { objectKey } from "../registry-keys.ts";
import type { HandlerResult, RequestInput } from "../rest-request.ts";
import {
  DEFAULT_TOKEN_SECONDS,
  MAX_TOKEN_SECONDS,
  MIN_TOKEN_SECONDS,
  type ServiceAccountTokens,
  type TokenClaims,
} from "./service-account-token.ts";

const SERVICE_ACCOUNTS = resourceByPlural("serviceaccounts", "") as ResourceInfo;
const PODS = resourceByPlural("pods", "") as ResourceInfo;

async function readUid(store: ObjectStore, r: ResourceInfo, namespace: string, name: string) {
  const found = await store.read(objectKey(r, namespace, name), true);
  return found === null ? null : asString(asObject(found.object.metadata).uid);
}

export async function serveTokenRequest(
  store: ObjectStore,
  tokens: ServiceAccountTokens,
  clock: Clock,
  input: RequestInput,
): Promise<HandlerResult> {
  const { namespace, name } = input.request;
  const ns = namespace ?? "";
  const saName = name ?? "";
  const saUid = await readUid(store, SERVICE_ACCOUNTS, ns, saName);
  if (saUid === null)
    throw new ApiError(notFoundStatus({ group: "", resource: "serviceaccounts" }, saName));
  const body = await input.body();
  const request = isJsonObject(body) ? body : {};
  const spec = asObject(request.spec);
  const audiences = asArray(spec.audiences)
    .map(String)
    .filter((a) => a !== "");
  const seconds =
    spec.expirationSeconds === undefined ? DEFAULT_TOKEN_SECONDS : Number(spec.expirationSeconds);
  if (!Number.isInteger(seconds) || seconds < MIN_TOKEN_SECONDS)
    throw new ApiError(
      badRequestStatus(
        `spec.expirationSeconds: Invalid value: ${seconds}: may not specify a duration less than ${MIN_TOKEN_SECONDS} seconds`,
      ),
    );
  const nowS = Math.floor(clock.wallMs() / 1000);
  const exp = nowS + Math.min(seconds, MAX_TOKEN_SECONDS);
  const claims: TokenClaims = {
    iss: tokens.issuer,
    aud: audiences.length > 0 ? audiences : [tokens.issuer],
    exp,
    iat: nowS,
    nbf: nowS,
    sub: serviceAccountUser(ns, saName).username,
    "kubernetes.io": { namespace: ns, serviceaccount: { name: saName, uid: saUid } },
  };
  const bound = asObject(spec.boundObjectRef);
  if (asString(bound.kind) !== "") {
    if (bound.kind !== "Pod")
      throw new ApiError(
        badRequestStatus(
          `spec.boundObjectRef.kind: Unsupported value: "${asString(bound.kind)}": supported values: "Pod"`,
        ),
      );
    const podName = asString(bound.name);
    const podUid = await readUid(store, PODS, ns, podName);
    if (podUid === null)
      throw new ApiError(notFoundStatus({ group: "", resource: "pods" }, podName));
    if (asString(bound.uid) !== "" && asString(bound.uid) !== podUid)
      throw new ApiError(
        badRequestStatus(
          `the UID in the bound object reference (${asString(bound.uid)}) does not match the UID in record (${podUid})`,
        ),
      );
    claims["kubernetes.io"].pod = { name: podName, uid: podUid };
  }
  const result: JsonObject = {
    kind: "TokenRequest",
    apiVersion: "authentication.k8s.io/v1",
    metadata: { name: saName, namespace: ns, creationTimestamp: null },
    spec: { ...spec, audiences: claims.aud, expirationSeconds: exp - nowS },
    status: { token: tokens.sign(claims), expirationTimestamp: rfc3339(exp * 1000) },
  };
  return { code: 201, body: result };
}

/**
 * The ServiceAccount token authenticator: a token this cluster signed, current, for one of
 * `audiences`, whose ServiceAccount (and pod, if bound) still exist with the uids it names.
 */
export function serviceAccountAuthenticator(
  store: ObjectStore,
  tokens: ServiceAccountTokens,
  clock: Clock,
  audiences: readonly string[] = [tokens.issuer],
): TokenAuthenticator {
  return async (token: string): Promise<UserInfo | null> => {
    const claims = tokens.verify(token, Math.floor(clock.wallMs() / 1000));
    if (claims === null || !claims.aud.some((a) => audiences.includes(a))) return null;
    const k = claims["kubernetes.io"];
    if (
      (await readUid(store, SERVICE_ACCOUNTS, k.namespace, k.serviceaccount.name)) !==
      k.serviceaccount.uid
    )
      return null;
    const extra: Record<string, string[]> = {};
    if (k.pod) {
      if ((await readUid(store, PODS, k.namespace, k.pod.name)) !== k.pod.uid) return null;
      extra["authentication.kubernetes.io/pod-name"] = [k.pod.name];
      extra["authentication.kubernetes.io/pod-uid"] = [k.pod.uid];
    }
    return serviceAccountUser(k.namespace, k.serviceaccount.name, extra);
  };
}
