/**
 * Paths the server does not serve answer in kube-apiserver's words, never as a missing object:
 * an unknown subresource is 404 "the server could not find the requested resource"; a
 * Kubernetes subresource not served here yet (pods/exec) is a 405 that names it; a verb a
 * subresource does not take is 405.
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../actors/system/clock.ts";
import { MemoryObjectStore } from "./memory-object-store.ts";
import { restCaller } from "./rest-harness.ts";

describe("unserved paths", () => {
  const call = restCaller(new MemoryObjectStore(), new ManualClock());

  it("an unknown subresource: 404 the server could not find the requested resource", async () => {
    const out = await call("GET", "/api/v1/namespaces/default/pods/web/widgets");
    expect(out.code).toBe(404);
    expect(out.body).toMatchObject({
      reason: "NotFound",
      message: "the server could not find the requested resource",
    });
  });

  it('pods/portforward and proxy not served: 405 naming the subresource, not pods "web" not found', async () => {
    for (const sub of ["portforward", "proxy"]) {
      const out = await call("GET", `/api/v1/namespaces/default/pods/web/${sub}`);
      expect(out.code).toBe(405);
      expect(out.body).toMatchObject({
        reason: "MethodNotAllowed",
        message: `the server does not allow this method on the requested resource: pods/${sub} is not served by this server yet`,
      });
    }
  });
});
