/**
 * Max requests in flight: separate read-only and mutating seats per priority level, so that a
 * flood of user requests cannot take the seats of the system's components (APF's `system`
 * level); watches, followed logs and health checks take no seat.
 */
import { describe, expect, it } from "vitest";
import {
  isMutating,
  MaxInFlight,
  priorityLevelOf,
  takesNoSeat,
} from "../../../actors/apiserver/max-in-flight.ts";

const q = (s = "") => new URLSearchParams(s);

describe("max requests in flight", () => {
  it("read-only and mutating seats are counted apart", () => {
    const limiter = new MaxInFlight({ maxReadOnly: 2, maxMutating: 1, retryAfterSeconds: 1 });
    const r1 = limiter.tryAcquire("workload", false);
    const r2 = limiter.tryAcquire("workload", false);
    expect(r1).not.toBeNull();
    expect(r2).not.toBeNull();
    expect(limiter.tryAcquire("workload", false)).toBeNull();
    const m1 = limiter.tryAcquire("workload", true);
    expect(m1).not.toBeNull();
    expect(limiter.tryAcquire("workload", true)).toBeNull();
    r1?.();
    // a release frees exactly one seat, however often it is called
    r1?.();
    expect(limiter.inFlight("workload", false)).toBe(1);
    expect(limiter.tryAcquire("workload", false)).not.toBeNull();
    expect(limiter.tryAcquire("workload", false)).toBeNull();
  });

  it("a full workload level leaves the system level's seats free (Lease renewals go through)", () => {
    const limiter = new MaxInFlight({ maxReadOnly: 3, maxMutating: 3, retryAfterSeconds: 1 });
    while (limiter.tryAcquire("workload", true) !== null) {}
    expect(limiter.inFlight("workload", true)).toBe(3);
    const kubelet = {
      username: "system:node:n1",
      groups: ["system:nodes", "system:authenticated"],
    };
    const level = priorityLevelOf(kubelet);
    expect(level).toBe("system");
    expect(limiter.tryAcquire(level, true)).not.toBeNull();
  });

  it("the system level is the nodes, the controller manager, the scheduler and kube-system's service accounts", () => {
    expect(priorityLevelOf({ username: "system:kube-scheduler", groups: [] })).toBe("system");
    expect(priorityLevelOf({ username: "system:kube-controller-manager", groups: [] })).toBe(
      "system",
    );
    expect(
      priorityLevelOf({
        username: "system:serviceaccount:kube-system:foo",
        groups: ["system:serviceaccounts", "system:serviceaccounts:kube-system"],
      }),
    ).toBe("system");
    expect(priorityLevelOf({ username: "kubernetes-admin", groups: ["system:masters"] })).toBe(
      "workload",
    );
    expect(priorityLevelOf({ username: "system:node:n1", groups: [] })).toBe("workload");
  });

  it("watches, followed logs and health checks take no seat; the rest do", () => {
    expect(takesNoSeat("/healthz", null, q())).toBe(true);
    expect(takesNoSeat("/readyz/ping", null, q())).toBe(true);
    expect(takesNoSeat("/api/v1/pods", "watch", q("watch=1"))).toBe(true);
    expect(takesNoSeat("/api/v1/namespaces/d/configmaps/x", "get", q("watch=true"))).toBe(true);
    expect(takesNoSeat("/api/v1/namespaces/d/pods/p/log", "get", q("follow=true"))).toBe(true);
    expect(takesNoSeat("/api/v1/namespaces/d/pods/p/log", "get", q())).toBe(false);
    expect(takesNoSeat("/api/v1/pods", "list", q())).toBe(false);
    expect(takesNoSeat("/healthzz", null, q())).toBe(false);
  });

  it("mutating is every verb but get, list and watch; for other paths every method but GET/HEAD/OPTIONS", () => {
    for (const verb of ["get", "list", "watch"] as const)
      expect(isMutating(verb, "GET")).toBe(false);
    for (const verb of ["create", "update", "patch", "delete", "deletecollection"] as const)
      expect(isMutating(verb, "POST")).toBe(true);
    expect(isMutating(null, "GET")).toBe(false);
    expect(isMutating(null, "POST")).toBe(true);
  });
});
