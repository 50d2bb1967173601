/**
 * The DNS server on its own thread: it answers from the zone changes the main thread hands
 * over (a Service recorded answers at once, a forgotten one is NXDOMAIN at once: the thread's
 * answer cache is emptied by every change), Pods cross over reduced to what pod records need,
 * and the thread's query counts reach the main thread's tally (the node's /metrics).
 */
import dnsPacket from "dns-packet";
import pino from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { QueryTally } from "../../../actors/dns/dns-metrics.ts";
import { DnsBindError, DnsThread } from "../../../actors/dns/dns-thread.ts";
import { DEFAULT_DNS_LIMITS } from "../../../actors/dns/limits.ts";
import { answerData, udpAsk } from "../../support/dns.ts";
import { waitFor } from "../../support/wait.ts";

const HOST = "127.0.0.1";
const tally = new QueryTally();
const thread = new DnsThread(
  {
    host: HOST,
    zoneConfig: { domain: "cluster.local", ttlSeconds: 5 },
    limits: DEFAULT_DNS_LIMITS,
    upstreams: [],
    logLevel: "silent",
    tallyIntervalMs: 50,
  },
  tally,
  pino({ level: "silent" }),
);
let udpPort = 0;

beforeAll(async () => {
  thread.change("recordService", {
    metadata: { name: "web", namespace: "default" },
    spec: { clusterIP: "127.96.0.20" },
  });
  ({ udpPort } = await thread.listen(0));
}, 30_000);

afterAll(() => thread.stop());

const ask = (name: string, id: number) =>
  udpAsk(
    dnsPacket.encode({ type: "query", id, questions: [{ name, type: "A" }] }),
    HOST,
    udpPort,
    1_000,
  );
const addresses = answerData;

it("answers from the zone changes handed over, at once after each change", async () => {
  expect(addresses(await ask("web.default.svc.cluster.local", 1))).toEqual(["127.96.0.20"]);
  const cached = await ask("web.default.svc.cluster.local", 2);
  expect(cached?.id).toBe(2);
  expect(addresses(cached)).toEqual(["127.96.0.20"]);
  thread.change("forgetService", { metadata: { name: "web", namespace: "default" } });
  // the port is ordered: a query sent after the change was posted can still win the race to
  // the thread, so wait for the change rather than assume it
  await waitFor(
    "web to go",
    async () => (await ask("web.default.svc.cluster.local", 3))?.rcode === "NXDOMAIN",
  );
  thread.change("recordService", {
    metadata: { name: "web", namespace: "default" },
    spec: { clusterIP: "127.96.0.21" },
  });
  await waitFor("web to come back", async () =>
    addresses(await ask("web.default.svc.cluster.local", 4))?.[0] === "127.96.0.21"
      ? true
      : undefined,
  );
});

it("a pod crosses over as its namespace, name and IP: its record resolves", async () => {
  thread.change("recordPod", {
    metadata: { name: "p", namespace: "default", labels: { big: "x".repeat(10_000) } },
    spec: { containers: [{ name: "c", image: "i" }] },
    status: { podIP: "127.200.0.5" },
  });
  await waitFor("pod record", async () =>
    addresses(await ask("127-200-0-5.default.pod.cluster.local", 5))?.[0] === "127.200.0.5"
      ? true
      : undefined,
  );
});

it("the thread's query counts reach the main thread's tally", async () => {
  await waitFor("tally", () => (tally.requests.get("A NOERROR")?.count ?? 0) >= 2 || undefined);
  expect(tally.requests.get("A NXDOMAIN")?.count ?? 0).toBeGreaterThanOrEqual(1);
  expect(tally.latency.get("A")?.count ?? 0).toBeGreaterThanOrEqual(3);
});

it("a bind that fails rejects with the errno name (what the fallback to 10053 reads)", async () => {
  const error = await thread.listen(udpPort).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DnsBindError);
  expect((error as DnsBindError).code).toBe("EADDRINUSE");
});
