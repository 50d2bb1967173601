/**
 * The kubelet's status manager against a pod store that applies merge patches as the API server
 * does. The chaos suite's non-converging Deployment (partition-leader, seed 5): a status patch
 * timed out on an API server cut off from the Raft leader and was sent again elsewhere; the pod
 * went Running; then, the partition healed, the first attempt applied — the pod was Pending in
 * the API for good, since the kubelet never sends an unchanged status twice. Here the first
 * attempt is held and applied last, as that server did.
 */
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { ApiOutcomeUnknownError } from "../../../actors/client/api-client.ts";
import { PodStatusManager } from "../../../actors/kubelet/pod-status-manager.ts";
import { waitFor } from "../../support/wait.ts";

/** One pod as the API stores it: each applied patch makes a new resourceVersion. */
class PodStore {
  revision = 1;
  status: JsonObject = { phase: "Pending" };
  patches = 0;
  /** Patches taken but not applied or answered (a server that lost the leader). */
  held: JsonObject[] = [];
  holdNext = false;

  pod(): JsonObject {
    return { metadata: { uid: "u1", resourceVersion: String(this.revision) }, status: this.status };
  }

  apply(status: JsonObject): JsonObject {
    this.status = { ...this.status, ...status };
    this.revision++;
    return this.pod();
  }

  readonly api = {
    patch: async (_r: string, _n: string, _t: string, body: unknown): Promise<JsonObject> => {
      this.patches++;
      const { status } = body as { status: JsonObject };
      if (this.holdNext) {
        this.holdNext = false;
        this.held.push(status);
        throw new ApiOutcomeUnknownError("api.patch", "timed out");
      }
      return this.apply(status);
    },
  } as unknown as ConstructorParameters<typeof PodStatusManager>[0];
}

const ready = (status: boolean) => ({
  conditions: [{ type: "Ready", status: status ? "True" : "False" }],
});

describe("PodStatusManager", () => {
  it("sends a status again when a late patch of an older one overwrote it in the API", async () => {
    const store = new PodStore();
    const statuses = new PodStatusManager(store.api, 4);
    store.holdNext = true;
    statuses.report("u1", "default", "web-1", { phase: "Pending", ...ready(false) });
    await waitFor("the retry of the unknown patch", () => store.status.conditions !== undefined);
    statuses.report("u1", "default", "web-1", { phase: "Running", ...ready(true) });
    await waitFor("Running in the API", () => store.status.phase === "Running");
    const afterRunning = store.patches;

    // an older version of the pod (an event from before our patch) asks for nothing
    statuses.reconcile("u1", { ...store.pod(), metadata: { resourceVersion: "2" } });
    expect(store.patches).toBe(afterRunning);

    // the held first attempt lands after all, and the informer delivers that version
    store.apply(store.held.shift() as JsonObject);
    expect(store.status.phase).toBe("Pending");
    statuses.reconcile("u1", store.pod());
    await waitFor("Running again in the API", () => store.status.phase === "Running");
    expect(store.status.conditions).toEqual(ready(true).conditions);

    // the version our re-sent patch made agrees: nothing more is sent
    const settled = store.patches;
    statuses.reconcile("u1", store.pod());
    expect(store.patches).toBe(settled);
  });
});
