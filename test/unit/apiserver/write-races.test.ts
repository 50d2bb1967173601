/**
 * Writes that race a controller's status writes (kube-apiserver's GuaranteedUpdate): an update,
 * patch, scale, status write or delete that pinned no resourceVersion retries from a fresh read
 * until it applies, so it never answers 409 Conflict because another client wrote in between;
 * only a resourceVersion the request itself pinned, or a failed precondition, is a 409.
 *
 * The racing writer here gets in between every read and write of the object the request makes
 * — RACES times in a row, more than any fixed handful of retries — as a Deployment controller
 * writing status right after a create does (the Python client's `patch_namespaced_deployment_scale`
 * then got a 409).
 */
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import type { WriteOutcome } from "../../../actors/apiserver/object-store.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { MemoryObjectStore } from "./memory-object-store.ts";
import { restCaller } from "./rest-harness.ts";

/** Status writes that land between each read and write of the request under test. */
const RACES = 8;
const DEPLOY = "/apis/apps/v1/namespaces/default/deployments";
const DEPLOY_KEY = "/registry/apps/deployments/default/web";

/** A memory store where another writer updates the target's status before each guarded write. */
class RacedStore extends MemoryObjectStore {
  racesLeft = 0;
  statusWrites = 0;

  override async update(
    key: string,
    object: JsonObject,
    expectedModRevision: number,
  ): Promise<WriteOutcome> {
    await this.race(key);
    return super.update(key, object, expectedModRevision);
  }

  override async delete(
    key: string,
    expectedModRevision: number,
    alsoDeletePrefixes: readonly string[] = [],
  ): Promise<WriteOutcome & { kind: "ok" | "conflict" | "notFound" }> {
    await this.race(key);
    return super.delete(key, expectedModRevision, alsoDeletePrefixes);
  }

  /** The controller's write: status.observedGeneration moves, nothing else. */
  private async race(key: string): Promise<void> {
    if (key !== DEPLOY_KEY || this.racesLeft === 0) return;
    this.racesLeft--;
    const current = await this.get(key);
    if (current === null) return;
    const status = { ...(current.object.status as JsonObject), observedGeneration: 1 };
    const written = await super.update(key, { ...current.object, status }, current.modRevision);
    if (written.kind === "ok") this.statusWrites++;
  }
}

async function raced() {
  const store = new RacedStore();
  const call = restCaller(store, new ManualClock(0, Date.parse("2024-05-01T10:00:00Z")));
  await call("POST", "/api/v1/namespaces", { metadata: { name: "default" } });
  const made = await call("POST", DEPLOY, {
    metadata: { name: "web" },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: { containers: [{ name: "c", image: "bosun/echo" }] },
      },
    },
  });
  expect(made.code).toBe(201);
  store.racesLeft = RACES;
  return { store, call, created: made.body };
}

const MERGE = "application/merge-patch+json";
const specOf = (o: JsonObject) => o.spec as JsonObject;

describe("writes racing status writes never answer 409 unless they pinned a resourceVersion", () => {
  it("PATCH deployments/scale", async () => {
    const { store, call } = await raced();
    const r = await call("PATCH", `${DEPLOY}/web/scale`, { spec: { replicas: 3 } }, MERGE);
    expect(r.code).toBe(200);
    expect(specOf(r.body).replicas).toBe(3);
    expect(store.statusWrites).toBe(RACES);
    const after = await call("GET", `${DEPLOY}/web`);
    expect(specOf(after.body).replicas).toBe(3);
    expect((after.body.status as JsonObject).observedGeneration).toBe(1);
  });

  it("PUT deployments/scale without a resourceVersion", async () => {
    const { store, call } = await raced();
    const r = await call("PUT", `${DEPLOY}/web/scale`, {
      kind: "Scale",
      apiVersion: "autoscaling/v1",
      metadata: { name: "web", namespace: "default" },
      spec: { replicas: 4 },
    });
    expect(r.code).toBe(200);
    expect(specOf(r.body).replicas).toBe(4);
    expect(store.statusWrites).toBe(RACES);
  });

  it("PATCH and PUT (no resourceVersion) of the deployment, and PATCH of its status", async () => {
    const { store, call, created } = await raced();
    const patched = await call(
      "PATCH",
      `${DEPLOY}/web`,
      { metadata: { labels: { a: "b" } } },
      MERGE,
    );
    expect(patched.code).toBe(200);
    store.racesLeft = RACES;
    const meta = { ...(created.metadata as JsonObject) };
    delete meta.resourceVersion;
    const put = await call("PUT", `${DEPLOY}/web`, {
      ...created,
      metadata: { ...meta, labels: { a: "c" } },
    });
    expect(put.code).toBe(200);
    expect((put.body.metadata as JsonObject).labels).toEqual({ a: "c" });
    store.racesLeft = RACES;
    const status = await call("PATCH", `${DEPLOY}/web/status`, { status: { replicas: 1 } }, MERGE);
    expect(status.code).toBe(200);
    expect(store.statusWrites).toBe(3 * RACES);
  });

  it("DELETE without preconditions", async () => {
    const { store, call } = await raced();
    const r = await call("DELETE", `${DEPLOY}/web`);
    expect(r.code).toBe(200);
    expect(store.statusWrites).toBe(RACES);
    expect((await call("GET", `${DEPLOY}/web`)).code).toBe(404);
  });

  it("a resourceVersion the request pinned still conflicts once another write got in", async () => {
    const { call, created } = await raced();
    const rv = String((created.metadata as JsonObject).resourceVersion);
    const put = await call("PUT", `${DEPLOY}/web`, {
      ...created,
      metadata: { ...(created.metadata as JsonObject), labels: { a: "c" } },
    });
    expect(put.code).toBe(409);
    const scale = await call(
      "PATCH",
      `${DEPLOY}/web/scale`,
      { metadata: { resourceVersion: rv }, spec: { replicas: 2 } },
      MERGE,
    );
    expect(scale.code).toBe(409);
    const del = await call("DELETE", `${DEPLOY}/web`, { preconditions: { resourceVersion: rv } });
    expect(del.code).toBe(409);
  });
});
