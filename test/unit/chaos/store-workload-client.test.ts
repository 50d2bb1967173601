import { afterEach, describe, expect, it } from "vitest";
import { roundRobinServers, storeWorkloadClient } from "../../../cmd/chaos/workload.ts";
import { InProcessCluster } from "../replica/cluster-harness.ts";

let cluster: InProcessCluster | undefined;
afterEach(() => {
  cluster?.stop();
  cluster = undefined;
});

describe("the chaos workload's store client", () => {
  it("pins each read to the next server in turn, so followers serve linearizable reads too", async () => {
    const c = new InProcessCluster(["n1", "n2", "n3"]);
    cluster = c;
    await c.start();
    await c.runUntil("a leader", () => c.leader() !== undefined);
    const served = new Map<string, number>();
    for (const server of c.servers.values()) {
      const range = server.port.range.bind(server.port);
      server.port.range = (request, serializable) => {
        served.set(server.id, (served.get(server.id) ?? 0) + (serializable ? 0 : 1));
        return range(request, serializable);
      };
    }
    const client = storeWorkloadClient(
      c.client("c1"),
      roundRobinServers(() => c.ids),
    );
    await c.await(client.put("chaos/k000", "v1"));
    for (let i = 0; i < 6; i++) expect(await c.await(client.get("chaos/k000"))).toBe("v1");
    // every server twice: the leader and both followers answered after their ReadIndex
    expect(Object.fromEntries(served)).toEqual({ n1: 2, n2: 2, n3: 2 });
  });

  it("without a read server, reads go where the client last wrote", async () => {
    const c = new InProcessCluster(["n1", "n2", "n3"]);
    cluster = c;
    await c.start();
    await c.runUntil("a leader", () => c.leader() !== undefined);
    const served = new Set<string>();
    for (const server of c.servers.values()) {
      const range = server.port.range.bind(server.port);
      server.port.range = (request, serializable) => {
        served.add(server.id);
        return range(request, serializable);
      };
    }
    const client = storeWorkloadClient(c.client("c1"));
    await c.await(client.put("chaos/k000", "v1"));
    for (let i = 0; i < 3; i++) await c.await(client.get("chaos/k000"));
    expect([...served]).toEqual([c.leader()!.id]);
  });
});
