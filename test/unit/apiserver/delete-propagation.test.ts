/**
 * Deletion as kube-apiserver does it: DeleteOptions from the body or the query (validated as
 * `ValidateDeleteOptions`), the generic registry's plan (`BeforeDelete`, the garbage-collection
 * finalizers, `markAsDeleting`, `shouldDeleteDuringUpdate`), and the REST handler over an
 * in-memory ObjectStore: finalizers hold an object, updates cannot add them back or move the
 * deletion mark, and the update that takes the last one away deletes it.
 */
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import {
  type DeleteOptions,
  parseDeleteOptions,
} from "../../../actors/apiserver/delete-options.ts";
import {
  garbageCollectionFinalizers,
  planDeletion,
  shouldDeleteDuringUpdate,
} from "../../../actors/apiserver/object-deletion.ts";
import { parseRequestOptions } from "../../../actors/apiserver/request-options.ts";
import { ApiError } from "../../../actors/client/errors.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { MemoryObjectStore } from "./memory-object-store.ts";
import { restCaller } from "./rest-harness.ts";

const q = (s = "") => parseRequestOptions(new URLSearchParams(s));
const NOW_MS = Date.parse("2024-05-01T10:00:00Z");

function statusOf(fn: () => unknown): { code: number; message: string } {
  try {
    fn();
  } catch (error) {
    if (error instanceof ApiError)
      return { code: error.status.code ?? 0, message: error.status.message ?? "" };
    throw error;
  }
  throw new Error("expected an ApiError");
}

describe("DeleteOptions (metav1.DeleteOptions from a DELETE)", () => {
  it("reads kubectl's body", () => {
    const body = { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Foreground" };
    expect(parseDeleteOptions(body, q())).toEqual({
      preconditions: {},
      dryRun: false,
      propagationPolicy: "Foreground",
    });
  });

  it("reads the query when there is no body, and only then", () => {
    const query = q("propagationPolicy=Orphan&gracePeriodSeconds=5&dryRun=All");
    expect(parseDeleteOptions(null, query)).toEqual({
      preconditions: {},
      dryRun: true,
      propagationPolicy: "Orphan",
      gracePeriodSeconds: 5,
    });
    expect(parseDeleteOptions({ gracePeriodSeconds: 0 }, query)).toEqual({
      preconditions: {},
      dryRun: false,
      gracePeriodSeconds: 0,
    });
    expect(parseDeleteOptions(null, q("orphanDependents=true")).orphanDependents).toBe(true);
  });

  it("preconditions come from the body", () => {
    const body = { preconditions: { uid: "u1", resourceVersion: "7" } };
    expect(parseDeleteOptions(body, q()).preconditions).toEqual({
      uid: "u1",
      resourceVersion: "7",
    });
  });

  it("an unknown policy, or a policy with orphanDependents, is 422 Invalid", () => {
    expect(statusOf(() => parseDeleteOptions(null, q("propagationPolicy=Sideways")))).toEqual({
      code: 422,
      message:
        'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Sideways": supported values: "Foreground", "Background", "Orphan", "nil"',
    });
    const both = { propagationPolicy: "Orphan", orphanDependents: true };
    expect(statusOf(() => parseDeleteOptions(both, q()))).toEqual({
      code: 422,
      message:
        'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: "Orphan": orphanDependents and deletionPropagation cannot be both set',
    });
  });

  it("a value of the wrong type is 400", () => {
    expect(statusOf(() => parseDeleteOptions(null, q("gracePeriodSeconds=soon"))).code).toBe(400);
    expect(statusOf(() => parseDeleteOptions({ gracePeriodSeconds: "5" }, q())).code).toBe(400);
    expect(statusOf(() => parseDeleteOptions(null, q("orphanDependents=maybe"))).code).toBe(400);
    expect(statusOf(() => parseDeleteOptions({ kind: "Pod" }, q())).code).toBe(400);
  });
});

const opts = (o: Partial<DeleteOptions> = {}): DeleteOptions => ({
  preconditions: {},
  dryRun: false,
  ...o,
});

function object(meta: JsonObject = {}, extra: JsonObject = {}): JsonObject {
  return { metadata: { name: "x", uid: "u", ...meta }, ...extra };
}

const metaOf = (plan: ReturnType<typeof planDeletion>) =>
  plan.kind === "update" ? (plan.object.metadata as JsonObject) : null;

describe("the deletion plan (generic registry Store.Delete)", () => {
  const now = { nowMs: NOW_MS, gracePeriodSeconds: null };

  it("Background on an object without finalizers deletes it now", () => {
    expect(planDeletion(object(), opts(), now)).toEqual({ kind: "delete" });
    expect(planDeletion(object(), opts({ propagationPolicy: "Background" }), now).kind).toBe(
      "delete",
    );
  });

  it("Orphan and Foreground become finalizers; the object is marked and held", () => {
    expect(metaOf(planDeletion(object(), opts({ propagationPolicy: "Orphan" }), now))).toEqual({
      name: "x",
      uid: "u",
      finalizers: ["orphan"],
      deletionTimestamp: "2024-05-01T10:00:00Z",
      deletionGracePeriodSeconds: 0,
    });
    const fg = metaOf(planDeletion(object(), opts({ propagationPolicy: "Foreground" }), now));
    expect(fg?.finalizers).toEqual(["foregroundDeletion"]);
    expect(
      metaOf(planDeletion(object(), opts({ orphanDependents: true }), now))?.finalizers,
    ).toEqual(["orphan"]);
    expect(planDeletion(object(), opts({ orphanDependents: false }), now).kind).toBe("delete");
  });

  it("a generation moves when the deletion starts", () => {
    const plan = planDeletion(
      object({ generation: 3 }),
      opts({ propagationPolicy: "Orphan" }),
      now,
    );
    expect(metaOf(plan)?.generation).toBe(4);
  });

  it("an explicit policy replaces the other GC finalizer; others stay", () => {
    expect(
      garbageCollectionFinalizers(["a/b", "orphan"], opts({ propagationPolicy: "Foreground" })),
    ).toEqual(["a/b", "foregroundDeletion"]);
    expect(garbageCollectionFinalizers(["orphan"], opts())).toBeNull();
    expect(
      garbageCollectionFinalizers(["orphan"], opts({ propagationPolicy: "Background" })),
    ).toEqual([]);
  });

  it("an object with finalizers of its own is held, whatever the policy", () => {
    const plan = planDeletion(object({ finalizers: ["example.com/hold"] }), opts(), now);
    expect(metaOf(plan)).toMatchObject({
      finalizers: ["example.com/hold"],
      deletionTimestamp: "2024-05-01T10:00:00Z",
      deletionGracePeriodSeconds: 0,
    });
  });

  it("once deleting, another delete changes nothing (not even the finalizers)", () => {
    const deleting = object({
      finalizers: ["orphan"],
      deletionTimestamp: "2024-05-01T09:00:00Z",
      deletionGracePeriodSeconds: 0,
    });
    expect(planDeletion(deleting, opts({ propagationPolicy: "Foreground" }), now)).toEqual({
      kind: "pending",
    });
    expect(planDeletion(deleting, opts({ gracePeriodSeconds: 0 }), now)).toEqual({
      kind: "pending",
    });
  });

  it("a pod's grace period runs from the delete; a shorter one hurries it, a longer one does not", () => {
    const pod = object({}, { spec: { nodeName: "n1" } });
    const first = planDeletion(pod, opts(), { nowMs: NOW_MS, gracePeriodSeconds: 30 });
    expect(metaOf(first)).toMatchObject({
      deletionTimestamp: "2024-05-01T10:00:30Z",
      deletionGracePeriodSeconds: 30,
    });
    const marked = first.kind === "update" ? first.object : pod;
    expect(planDeletion(marked, opts({ gracePeriodSeconds: 60 }), now)).toEqual({
      kind: "pending",
    });
    const shorter = planDeletion(marked, opts({ gracePeriodSeconds: 10 }), now);
    expect(metaOf(shorter)).toMatchObject({
      deletionTimestamp: "2024-05-01T10:00:10Z",
      deletionGracePeriodSeconds: 10,
    });
    expect(planDeletion(marked, opts({ gracePeriodSeconds: 0 }), now)).toEqual({ kind: "delete" });
    const held = {
      ...marked,
      metadata: { ...(marked.metadata as JsonObject), finalizers: ["f/x"] },
    };
    expect(metaOf(planDeletion(held, opts({ gracePeriodSeconds: 0 }), now))).toMatchObject({
      deletionTimestamp: "2024-05-01T10:00:00Z",
      deletionGracePeriodSeconds: 0,
    });
  });

  it("an update that takes the last finalizer deletes, unless a grace period still runs", () => {
    const deleting = (grace: number) =>
      object({
        finalizers: ["f/x"],
        deletionTimestamp: "2024-05-01T10:00:00Z",
        deletionGracePeriodSeconds: grace,
      });
    const without = object({ finalizers: [] });
    expect(shouldDeleteDuringUpdate(without, deleting(0))).toBe(true);
    expect(shouldDeleteDuringUpdate(without, deleting(30))).toBe(false);
    expect(shouldDeleteDuringUpdate(object({ finalizers: ["f/y"] }), deleting(0))).toBe(false);
    expect(shouldDeleteDuringUpdate(without, object({ finalizers: ["f/x"] }))).toBe(false);
  });
});

/** A ResourceHandler over memory, spoken to like the HTTP server does. */
function server() {
  const store = new MemoryObjectStore();
  const clock = new ManualClock(0, NOW_MS);
  return { store, clock, call: restCaller(store, clock) };
}

const CM = "/api/v1/namespaces/default/configmaps";
const meta = (o: JsonObject) => o.metadata as Record<string, unknown>;

async function withDefaultNamespace() {
  const s = server();
  await s.call("POST", "/api/v1/namespaces", { metadata: { name: "default" } });
  return s;
}

describe("DELETE through the REST handler", () => {
  it("a finalizer holds the object, marked; the update that removes the last one deletes it", async () => {
    const { call, store } = await withDefaultNamespace();
    await call("POST", CM, { metadata: { name: "held", finalizers: ["example.com/hold"] } });
    const del = await call("DELETE", `${CM}/held`);
    expect(del.code).toBe(200);
    expect(meta(del.body).deletionTimestamp).toBe("2024-05-01T10:00:00Z");
    expect(meta(del.body).deletionGracePeriodSeconds).toBe(0);
    expect((await call("GET", `${CM}/held`)).code).toBe(200);
    // a second delete is a no-op answered with the object
    expect((await call("DELETE", `${CM}/held`)).code).toBe(200);

    const added = await call(
      "PATCH",
      `${CM}/held`,
      { metadata: { finalizers: ["example.com/more"] } },
      "application/strategic-merge-patch+json",
    );
    expect(added.code).toBe(422);
    expect(String(added.body.message)).toContain(
      'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.com/more"}',
    );
    const cleared = await call(
      "PATCH",
      `${CM}/held`,
      { metadata: { deletionTimestamp: null } },
      "application/merge-patch+json",
    );
    expect(meta(cleared.body).deletionTimestamp).toBe("2024-05-01T10:00:00Z");

    const before = store.changes.length;
    const done = await call(
      "PATCH",
      `${CM}/held`,
      { metadata: { finalizers: null } },
      "application/merge-patch+json",
    );
    expect(done.code).toBe(200);
    expect(store.changes.slice(before)).toEqual(["DELETE /registry/core/configmaps/default/held"]);
    expect((await call("GET", `${CM}/held`)).code).toBe(404);
  });

  it("propagationPolicy from the body or the query becomes the GC finalizer; orphanDependents=false is 202", async () => {
    const { call } = await withDefaultNamespace();
    for (const name of ["fg", "orphan", "bg", "old"])
      await call("POST", CM, { metadata: { name } });
    const fg = await call("DELETE", `${CM}/fg`, {
      kind: "DeleteOptions",
      apiVersion: "v1",
      propagationPolicy: "Foreground",
    });
    expect([fg.code, meta(fg.body).finalizers]).toEqual([200, ["foregroundDeletion"]]);
    const orphan = await call("DELETE", `${CM}/orphan?propagationPolicy=Orphan`);
    expect([orphan.code, meta(orphan.body).finalizers]).toEqual([200, ["orphan"]]);
    expect((await call("DELETE", `${CM}/bg?propagationPolicy=Background`)).code).toBe(200);
    expect((await call("GET", `${CM}/bg`)).code).toBe(404);
    const old = await call("DELETE", `${CM}/old`, {
      orphanDependents: false,
      gracePeriodSeconds: 0,
    });
    expect(old.code).toBe(200); // nothing waits on it: deleted at once
    const bad = await call("DELETE", `${CM}/fg?propagationPolicy=Sideways`);
    expect(bad.code).toBe(422);
  });

  it("orphanDependents=false on an object that stays is answered 202 Accepted", async () => {
    const { call } = await withDefaultNamespace();
    await call("POST", CM, { metadata: { name: "held", finalizers: ["example.com/hold"] } });
    expect((await call("DELETE", `${CM}/held?orphanDependents=false`)).code).toBe(202);
  });

  it("preconditions that do not match are 409 Conflict", async () => {
    const { call } = await withDefaultNamespace();
    const created = await call("POST", CM, { metadata: { name: "c" } });
    const uid = await call("DELETE", `${CM}/c`, { preconditions: { uid: "someone-else" } });
    expect(uid.code).toBe(409);
    expect(String(uid.body.message)).toContain(
      "Precondition failed: UID in precondition: someone-else",
    );
    const rv = await call("DELETE", `${CM}/c`, { preconditions: { resourceVersion: "1" } });
    expect(rv.code).toBe(409);
    const ok = await call("DELETE", `${CM}/c`, {
      preconditions: {
        uid: String(meta(created.body).uid),
        resourceVersion: String(meta(created.body).resourceVersion),
      },
    });
    expect(ok.code).toBe(200);
  });

  it("an update cannot set a deletionTimestamp (only a delete does)", async () => {
    const { call } = await withDefaultNamespace();
    await call("POST", CM, { metadata: { name: "c" } });
    const out = await call(
      "PATCH",
      `${CM}/c`,
      { metadata: { deletionTimestamp: "2024-01-01T00:00:00Z" } },
      "application/merge-patch+json",
    );
    expect(out.code).toBe(422);
    expect(String(out.body.message)).toContain("metadata.deletionTimestamp: Invalid value");
  });

  it("orphan and foregroundDeletion together are invalid", async () => {
    const { call } = await withDefaultNamespace();
    const out = await call("POST", CM, {
      metadata: { name: "c", finalizers: ["orphan", "foregroundDeletion"] },
    });
    expect(out.code).toBe(422);
    expect(String(out.body.message)).toContain(
      "finalizer orphan and foregroundDeletion cannot be both set",
    );
  });

  it("a bound pod is deleted gracefully: updates meanwhile keep it; grace 0 takes it", async () => {
    const { call, clock } = await withDefaultNamespace();
    const PODS = "/api/v1/namespaces/default/pods";
    await call("POST", PODS, {
      metadata: { name: "p", finalizers: [] },
      spec: { nodeName: "n1", containers: [{ name: "c", image: "i" }] },
    });
    const del = await call("DELETE", `${PODS}/p`);
    expect(meta(del.body)).toMatchObject({
      deletionTimestamp: "2024-05-01T10:00:30Z",
      deletionGracePeriodSeconds: 30,
    });
    clock.advance(1_000);
    const status = await call("PUT", `${PODS}/p/status`, {
      ...del.body,
      status: { phase: "Running" },
    });
    expect(status.code).toBe(200);
    expect((await call("GET", `${PODS}/p`)).code).toBe(200);
    expect((await call("DELETE", `${PODS}/p`, { gracePeriodSeconds: 0 })).code).toBe(200);
    expect((await call("GET", `${PODS}/p`)).code).toBe(404);
  });

  it("a namespace held by a finalizer is Terminating; when it is let go, its contents go with it", async () => {
    const { call, store } = await withDefaultNamespace();
    await call("POST", "/api/v1/namespaces", {
      metadata: { name: "team", finalizers: ["example.com/hold"] },
    });
    await call("POST", "/api/v1/namespaces/team/configmaps", { metadata: { name: "inside" } });
    const del = await call("DELETE", "/api/v1/namespaces/team");
    expect((del.body.status as JsonObject).phase).toBe("Terminating");
    const done = await call(
      "PATCH",
      "/api/v1/namespaces/team",
      { metadata: { finalizers: null } },
      "application/merge-patch+json",
    );
    expect(done.code).toBe(200);
    expect(store.changes.slice(-2).sort()).toEqual([
      "DELETE /registry/core/configmaps/team/inside",
      "DELETE /registry/core/namespaces/team",
    ]);
  });

  it("deletecollection applies the policy to every object it deletes", async () => {
    const { call } = await withDefaultNamespace();
    for (const name of ["a", "b"]) await call("POST", CM, { metadata: { name } });
    const out = await call("DELETE", `${CM}?propagationPolicy=Orphan`);
    expect((out.body.items as JsonObject[]).map((i) => meta(i).finalizers)).toEqual([
      ["orphan"],
      ["orphan"],
    ]);
  });
});
