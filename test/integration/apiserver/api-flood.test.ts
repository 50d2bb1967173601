/**
 * A user flood cannot starve Leases (issue 18, item 7): a one-server cluster with its kubelet,
 * started with `--max-mutating-requests-inflight 2`, is flooded with configmap creates over HTTPS
 * by many clients at once. The flood gets 429s with `Retry-After`, while the kubelet keeps
 * renewing its node Lease (it reaches the store over the mesh, on seats a user never takes) and
 * the server keeps answering reads.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpsApi, readCredentials } from "../../support/https-api.ts";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";

const FLOOD_CLIENTS = 40;
/** The flood lasts until the Lease has been renewed this many times under it... */
const RENEWALS_WANTED = 2;
/** ...or this many creates were sent (a starved Lease then fails the test instead of hanging it). */
const MAX_FLOOD_CREATES = 20_000;

describe("a user flood and the node Leases", () => {
  let cluster: LocalCluster;
  let api: HttpsApi;

  beforeAll(async () => {
    cluster = await LocalCluster.start(1, ["--max-mutating-requests-inflight", "2"], true);
    api = new HttpsApi(readCredentials(cluster.runDir), FLOOD_CLIENTS + 4);
    await waitFor("the node Lease", async () => {
      const r = await api.call(
        api.endpoint(0),
        "GET",
        "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1",
      );
      return r.code === 200;
    });
  });

  afterAll(async () => {
    api?.close();
    await cluster?.stop();
  });

  const renewTime = async (): Promise<string> => {
    const r = await api.call(
      api.endpoint(0),
      "GET",
      "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1",
    );
    return String((r.body.spec as { renewTime?: string }).renewTime);
  };

  it("the flood gets 429s while the kubelet's Lease renewals go on", async () => {
    const codes = new Map<number, number>();
    const renewals = new Set<string>([await renewTime()]);
    let flooding = true;
    let sent = 0;
    const watchLease = (async () => {
      while (flooding) {
        renewals.add(await renewTime());
        if (renewals.size > RENEWALS_WANTED) flooding = false;
      }
    })();
    await Promise.all(
      Array.from({ length: FLOOD_CLIENTS }, async (_, c) => {
        for (let n = 0; flooding && sent++ < MAX_FLOOD_CREATES; n++) {
          const r = await api
            .call(api.endpoint(0), "POST", "/api/v1/namespaces/default/configmaps", {
              metadata: { name: `flood-${c}-${n}` },
            })
            .catch(() => ({ code: 0 }));
          codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
        }
      }),
    );
    flooding = false;
    await watchLease;
    // the renewals were seen while the creates went on; the 429s below show those were a flood
    console.log(
      `flood: ${JSON.stringify(Object.fromEntries(codes))}; node Lease renewed ${renewals.size - 1} times during it`,
    );
    expect(codes.get(429) ?? 0, "some creates were refused").toBeGreaterThan(0);
    expect(codes.get(201) ?? 0, "some creates went through").toBeGreaterThan(0);
    expect([...codes.keys()].every((code) => code === 201 || code === 429)).toBe(true);
    expect(renewals.size - 1, "Lease renewals during the flood").toBeGreaterThan(0);
    const node = await api.call(api.endpoint(0), "GET", "/api/v1/nodes/n1");
    const ready = (
      node.body.status as { conditions: { type: string; status: string }[] }
    ).conditions.find((c) => c.type === "Ready");
    expect(ready?.status).toBe("True");
  });
});
