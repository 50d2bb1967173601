/** Updates of the main resource: what the API server keeps from the stored object. */
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { resourceByPlural } from "../../../actors/api/resources.ts";
import { prepareCreate, prepareUpdate } from "../../../actors/apiserver/object-lifecycle.ts";

const PODS = resourceByPlural("pods")!;

describe("prepareUpdate", () => {
  it("keeps a Pod's status on a main-resource update (kubectl annotate/label/edit)", () => {
    const created = prepareCreate(
      PODS,
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "p" },
        spec: { containers: [{ name: "c", image: "bosun/echo" }] },
      },
      "default",
      { uid: "u1", wallMs: 0, generateNameSuffix: "x" },
    );
    const running: JsonObject = {
      ...created,
      status: { phase: "Running", podIP: "127.200.0.5" },
    };
    const annotated = {
      ...running,
      metadata: { ...(running.metadata as object), annotations: { a: "b" } },
      status: { phase: "Pending" }, // a client's stale or invented status is ignored
    };
    const next = prepareUpdate(PODS, annotated, running, "default", null);
    expect(next.status).toEqual({ phase: "Running", podIP: "127.200.0.5" });
    expect((next.metadata as { annotations: object }).annotations).toEqual({ a: "b" });
  });

  it("the status subresource replaces only the status", () => {
    const old = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p", namespace: "default", uid: "u1" },
      spec: { containers: [{ name: "c", image: "bosun/echo" }] },
      status: { phase: "Pending" },
    };
    const next = prepareUpdate(
      PODS,
      { ...old, spec: { containers: [] }, status: { phase: "Running" } },
      old,
      "default",
      "status",
    );
    expect(next.status).toEqual({ phase: "Running" });
    expect(next.spec).toEqual(old.spec);
  });
});
