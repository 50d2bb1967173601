/**
 * The host's cluster-IP listeners are held by one proxy of a cluster at a time: two proxy
 * actors (two actor systems, as two nodes on one host) share the abstract-socket lock; the
 * first holds, the other stands by and takes over when the holder stops. A proxy of another
 * cluster holds its own. (The SIGKILL case, with real node processes, is in services-proxy-e2e.)
 */
import { randomUUID } from "node:crypto";
import { pino } from "pino";
import { afterEach, expect, it } from "vitest";
import type { ObjectList } from "../../../actors/client/api-client.ts";
import { type ProxyHandle, startProxy } from "../../../actors/proxy/proxy.ts";
import { ActorSystem } from "../../../actors/system/actor-system.ts";
import { SystemClock } from "../../../actors/system/clock.ts";
import { waitFor } from "../../support/wait.ts";

const proxies: ProxyHandle[] = [];
const systems: ActorSystem[] = [];
afterEach(() => {
  for (const p of proxies.splice(0)) p.stop();
  for (const s of systems.splice(0)) s.stop();
});

/** An API with no Services: lists are empty, watches stay open. */
const emptyApi = {
  list: async (): Promise<ObjectList> => ({
    kind: "List",
    apiVersion: "v1",
    metadata: { resourceVersion: "1" },
    items: [],
  }),
  watch: async () => ({ cancel: () => undefined }),
};

function node(id: string, cluster: string): ProxyHandle {
  const logger = pino({ level: "silent" });
  const system = new ActorSystem({ nodeId: id, clock: new SystemClock(), logger });
  systems.push(system);
  const proxy = startProxy({
    system,
    source: emptyApi,
    logger,
    nodeName: id,
    nodeAddress: "127.0.0.1",
    clusterIdentity: cluster,
  });
  proxies.push(proxy);
  return proxy;
}

it("one proxy per cluster holds the cluster-IP listeners; a standby takes over when it stops", async () => {
  const cluster = randomUUID();
  const n1 = node("n1", cluster);
  await waitFor("n1 holding", () => n1.holderState() === "holding");
  const n2 = node("n2", cluster);
  const other = node("m1", randomUUID());
  await waitFor("n2 standing by", () => ["standby", "acquiring"].includes(n2.holderState()));
  await waitFor(
    "the other cluster's proxy holding its own",
    () => other.holderState() === "holding",
  );
  n1.stop();
  await waitFor("n2 to take over", () => n2.holderState() === "holding");
  expect(n1.holderState()).toBe("stopped");
});
