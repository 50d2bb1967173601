/**
 * ServiceAccount tokens through the REST handler: TokenRequest answers a signed JWT for the
 * ServiceAccount (default audience the issuer, at least 10 minutes, bound to a pod when asked);
 * the token authenticator accepts it as `system:serviceaccount:<ns>:<name>` only while it is
 * current, for its audience, and while its ServiceAccount and pod still exist with their uids;
 * a token altered by one byte or signed by another key is no one.
 */
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { ServiceAccountTokens } from "../../../actors/apiserver/auth/service-account-token.ts";
import { serviceAccountAuthenticator } from "../../../actors/apiserver/auth/token-request.ts";
import { ResourceHandler } from "../../../actors/apiserver/resource-handler.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { MemoryObjectStore } from "./memory-object-store.ts";
import { callerAs } from "./rest-harness.ts";

const rsaKey = () =>
  generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  }).privateKey;

async function setup() {
  const store = new MemoryObjectStore();
  const clock = new ManualClock(0, 1_700_000_000_000);
  const tokens = new ServiceAccountTokens(rsaKey());
  const call = callerAs(new ResourceHandler(store, clock, undefined, undefined, {}, null, tokens));
  await call(undefined, "POST", "/api/v1/namespaces", { metadata: { name: "a" } });
  await call(undefined, "POST", "/api/v1/namespaces/a/serviceaccounts", {
    metadata: { name: "robot" },
  });
  const request = async (spec: JsonObject) => {
    const r = await call(undefined, "POST", "/api/v1/namespaces/a/serviceaccounts/robot/token", {
      spec,
    });
    return {
      code: r.code,
      body: r.body,
      token: String((r.body.status as JsonObject | undefined)?.token ?? ""),
    };
  };
  return {
    store,
    clock,
    tokens,
    call,
    request,
    authenticate: serviceAccountAuthenticator(store, tokens, clock),
  };
}

describe("TokenRequest and the ServiceAccount token authenticator", () => {
  it("issues a token that authenticates as the ServiceAccount until it expires", async () => {
    const { request, authenticate, clock } = await setup();
    const r = await request({ expirationSeconds: 600 });
    expect(r.code).toBe(201);
    expect(r.body.status).toMatchObject({ expirationTimestamp: "2023-11-14T22:23:20Z" });
    const user = await authenticate(r.token);
    expect(user).toMatchObject({
      username: "system:serviceaccount:a:robot",
      groups: ["system:serviceaccounts", "system:serviceaccounts:a", "system:authenticated"],
    });
    clock.advance(600_000);
    expect(await authenticate(r.token)).toBeNull();
  });

  it("refuses lifetimes under 10 minutes, and tokens for other audiences", async () => {
    const { request, authenticate } = await setup();
    expect((await request({ expirationSeconds: 60 })).code).toBe(400);
    const other = await request({ audiences: ["vault"] });
    expect(other.code).toBe(201);
    expect(await authenticate(other.token)).toBeNull();
  });

  it("a token bound to a pod dies with the pod; any token dies with its ServiceAccount", async () => {
    const { call, request, authenticate } = await setup();
    const pod = await call(undefined, "POST", "/api/v1/namespaces/a/pods", {
      metadata: { name: "p" },
      spec: { serviceAccountName: "robot", containers: [{ name: "c", image: "x" }] },
    });
    const uid = String((pod.body.metadata as JsonObject).uid);
    const bound = await request({
      boundObjectRef: { kind: "Pod", apiVersion: "v1", name: "p", uid },
    });
    expect(await authenticate(bound.token)).toMatchObject({
      extra: { "authentication.kubernetes.io/pod-name": ["p"] },
    });
    const unbound = await request({});
    await call(undefined, "DELETE", "/api/v1/namespaces/a/pods/p?gracePeriodSeconds=0");
    expect(await authenticate(bound.token)).toBeNull();
    expect(await authenticate(unbound.token)).not.toBeNull();
    await call(undefined, "DELETE", "/api/v1/namespaces/a/serviceaccounts/robot");
    expect(await authenticate(unbound.token)).toBeNull();
  });

  it("an altered token, or one signed by another key, is no one", async () => {
    const { request, authenticate, store, clock } = await setup();
    const { token } = await request({});
    const [h, p, s] = token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: "system:serviceaccount:a:admin" })).toString("base64url")}.${s}`;
    expect(await authenticate(forged)).toBeNull();
    const stranger = serviceAccountAuthenticator(store, new ServiceAccountTokens(rsaKey()), clock);
    expect(await stranger(token)).toBeNull();
    expect(await authenticate("not-a-jwt")).toBeNull();
  });
});
