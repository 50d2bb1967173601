/**
 * A write the API client cannot know the fate of is not sent again (client-go's rule): found by
 * the chaos suite, where an update that timed out on an API server cut off from the Raft leader
 * was retried on another server and acknowledged, the writer's next update was acknowledged
 * too, and then the first attempt — still in the cut-off server's hands — applied on top of it.
 *
 * Reproduced without chaos on a real 3-server cluster: n1 holds every frame from this client
 * for longer than the client's request timeout (a transport delay rule), so the update reaches
 * n1 only after the client gave up on it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asObject } from "../../../actors/api/json.ts";
import { ApiClient, ApiOutcomeUnknownError } from "../../../actors/client/api-client.ts";
import { type ApiWrite, checkAcknowledgedWrites } from "../../../cmd/chaos/api-invariants.ts";
import { baseUrl } from "../../../cmd/cluster-file.ts";
import type { FaultRule } from "../../../transport/faults.ts";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";

const REQUEST_TIMEOUT_MS = 1_000;
/** Far beyond the request timeout, so the retry and the next write both come first. */
const HOLD_MS = 6_000;
const NAME = "retried";

describe("an API write after a timeout", () => {
  let cluster: LocalCluster;
  let api: ApiClient;
  let setRules: (node: string, rules: FaultRule[]) => Promise<void>;

  beforeAll(async () => {
    cluster = await LocalCluster.start(3, ["--faults"]);
    const client = await cluster.connectClient();
    api = new ApiClient({
      system: client.system,
      servers: () => ["n1", "n2", "n3"],
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
    });
    setRules = async (node, rules) => {
      const res = await fetch(`${baseUrl(cluster.node(node))}/admin/faults`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${cluster.cluster.token}`,
          "content-type": "application/json",
        },
        body: JSON.stringify(rules),
      });
      expect(res.status).toBe(200);
    };
    await waitFor("the default namespace", () => api.get("namespaces", "default"));
  });

  afterAll(async () => {
    api?.close();
    await cluster?.stop();
  });

  it("is not retried elsewhere, so a late first attempt cannot undo an acknowledged write", async () => {
    const configMap = (value: string) => ({
      metadata: { name: NAME, namespace: "default" },
      data: { value },
    });
    await api.create("configmaps", configMap("v0"));
    // n1 first: the client prefers the server that answered last
    await waitFor("n1 to answer", async () => {
      await api.get("configmaps", NAME, { namespace: "default" });
      return true;
    });
    const clientId = cluster.client?.system.nodeId ?? "";
    await setRules("n1", [{ type: "delay", ms: HOLD_MS, peer: clientId, direction: "in" }]);

    // the chaos suite's writer: after an unknown outcome it leaves the object alone
    const writes: ApiWrite[] = [];
    const write = async (value: string): Promise<unknown> => {
      const entry: ApiWrite = { kind: "update", name: NAME, value, acked: false };
      writes.push(entry);
      try {
        await api.update("configmaps", configMap(value));
        entry.acked = true;
        return null;
      } catch (error) {
        return error;
      }
    };
    const first = await write("v1");
    if (first === null) await write("v2");
    await setRules("n1", []);

    // the held update reaches n1 and applies: its outcome was indeed unknown
    const read = async () =>
      asObject((await api.get("configmaps", NAME, { namespace: "default" })).data);
    await waitFor("the held update to apply", async () => (await read()).value === "v1", 30_000);
    const final = new Map([[NAME, String((await read()).value)]]);
    expect(checkAcknowledgedWrites(writes, final).anomalies).toEqual([]);
    expect(first).toBeInstanceOf(ApiOutcomeUnknownError);
  });
});
