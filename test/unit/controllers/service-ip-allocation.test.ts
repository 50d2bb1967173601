/**
 * ClusterIP and NodePort allocation against the in-memory API under a ManualClock: which Services
 * get what, user-chosen values that collide (Warning Events, never overwritten), a full range,
 * and the property that matters: over any order of Services, with any user-chosen values and a
 * cache that trails the API, no value is ever handed out twice and every one is in range.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import {
  cidrRange,
  inRange,
  ipv4ToNumber,
  numberToIpv4,
  pickFree,
} from "../../../actors/controllers/allocation-range.ts";
import {
  DEFAULT_NODE_PORT_RANGE,
  DEFAULT_SERVICE_CLUSTER_IP_CIDR,
  RANGE_FULL_RETRY_MS,
  type ServiceAllocationOptions,
  serviceIPAllocationController,
} from "../../../actors/controllers/service-ip-allocation.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { FakeApi } from "./fake-api.ts";
import {
  LaggingSource,
  meta,
  NS,
  run,
  serviceObject,
  startControllers,
} from "./service-fixtures.ts";

async function setup(
  services: JsonObject[] = [],
  options: Partial<ServiceAllocationOptions> = {},
  lagMs?: () => number,
) {
  const clock = new ManualClock();
  const api = new FakeApi();
  for (const s of services) await api.create("services", s);
  const source = lagMs ? new LaggingSource(api, clock, lagMs) : api;
  const runtime = startControllers(
    api,
    clock,
    [(ctx) => serviceIPAllocationController(ctx, options)],
    source,
  );
  await run(clock, 100);
  const svc = (name: string) => api.get("services", name, { namespace: NS });
  const spec = async (name: string) => (await svc(name)).spec as JsonObject;
  const warnings = () =>
    api
      .all("events", NS)
      .filter((e) => e.type === "Warning")
      .map((e) => `${(e.involvedObject as JsonObject).name} ${e.reason}`);
  return { clock, api, svc, spec, warnings, stop: runtime.stop };
}

const defaultRange = cidrRange(DEFAULT_SERVICE_CLUSTER_IP_CIDR);
const isClusterIP = (ip: unknown) => {
  const n = ipv4ToNumber(String(ip));
  return n !== null && inRange(defaultRange, n);
};
const nodePortsOf = (spec: JsonObject) =>
  ((spec.ports ?? []) as JsonObject[]).map((p) => p.nodePort);

describe("allocation ranges", () => {
  it("the default Service CIDR 127.96.0.0/12 is 127.96.0.1–127.111.255.254, clear of pod IPs (127.200+)", () => {
    expect(numberToIpv4(defaultRange.first)).toBe("127.96.0.1");
    expect(numberToIpv4(defaultRange.last)).toBe("127.111.255.254");
    expect(isClusterIP("127.200.0.2")).toBe(false);
    expect(DEFAULT_NODE_PORT_RANGE).toEqual({ first: 30000, last: 32767 });
  });

  it("pickFree scans from the offset, wraps around, and says when all is used", () => {
    const range = { first: 10, last: 14 };
    expect(pickFree(range, new Set([12, 13]), 2)).toBe(14);
    expect(pickFree(range, new Set([12, 13, 14]), 2)).toBe(10);
    expect(pickFree(range, new Set([10, 11, 12, 13, 14]), 0)).toBeNull();
  });
});

describe("Service ClusterIP and NodePort allocation", () => {
  it("a ClusterIP Service gets a cluster IP in clusterIP and clusterIPs; headless and ExternalName get none", async () => {
    const t = await setup([
      serviceObject("web"),
      serviceObject("blank", { clusterIP: "" }),
      serviceObject("headless", { clusterIP: "None" }),
      serviceObject("ext", { type: "ExternalName", externalName: "example.com" }),
      serviceObject("listed", { clusterIPs: ["127.96.0.77"] }),
    ]);
    for (const name of ["web", "blank"]) {
      const spec = await t.spec(name);
      expect(isClusterIP(spec.clusterIP)).toBe(true);
      expect(spec.clusterIPs).toEqual([spec.clusterIP]);
    }
    expect((await t.spec("web")).clusterIP).not.toBe((await t.spec("blank")).clusterIP);
    expect((await t.spec("headless")).clusterIP).toBe("None");
    expect((await t.spec("headless")).clusterIPs).toBeUndefined();
    expect((await t.spec("ext")).clusterIP).toBeUndefined();
    // one of the pair given: the other mirrors it
    expect((await t.spec("listed")).clusterIP).toBe("127.96.0.77");
    t.stop();
  });

  it("NodePort ports get NodePorts in range (TCP and UDP of one port share one); LoadBalancer may opt out", async () => {
    const t = await setup([
      serviceObject("np", {
        type: "NodePort",
        ports: [
          { name: "dns-tcp", port: 53, protocol: "TCP" },
          { name: "dns-udp", port: 53, protocol: "UDP" },
          { name: "web", port: 80, protocol: "TCP" },
        ],
      }),
      serviceObject("lb", { type: "LoadBalancer", allocateLoadBalancerNodePorts: false }),
    ]);
    const [tcp, udp, web] = nodePortsOf(await t.spec("np"));
    expect(tcp).toBe(udp);
    expect(web).not.toBe(tcp);
    for (const p of [tcp, web]) expect(inRange(DEFAULT_NODE_PORT_RANGE, Number(p))).toBe(true);
    expect(nodePortsOf(await t.spec("lb"))).toEqual([undefined]);
    expect(isClusterIP((await t.spec("lb")).clusterIP)).toBe(true);
    t.stop();
  });

  it("a user-chosen clusterIP that another Service holds is kept and warned about, once", async () => {
    const t = await setup([serviceObject("first", { clusterIP: "127.96.0.10" })]);
    expect((await t.spec("first")).clusterIPs).toEqual(["127.96.0.10"]);
    await t.api.create("services", serviceObject("second", { clusterIP: "127.96.0.10" }));
    await run(t.clock, 100);
    // the second one's update brings it back to the controller: still one warning
    const second = await t.svc("second");
    await t.api.update("services", {
      ...second,
      metadata: { ...meta(second), labels: { touched: "yes" } },
    });
    await run(t.clock, 100);
    expect((await t.spec("second")).clusterIP).toBe("127.96.0.10");
    expect(t.warnings()).toEqual(["second ClusterIPAlreadyAllocated"]);
    t.stop();
  });

  it("a user-chosen nodePort another Service holds, or one out of range, is kept and warned about", async () => {
    const nodePort = (n: number) => ({
      type: "NodePort",
      ports: [{ port: 80, protocol: "TCP", nodePort: n }],
    });
    const t = await setup([serviceObject("first", nodePort(30080))]);
    await t.api.create("services", serviceObject("second", nodePort(30080)));
    await t.api.create("services", serviceObject("third", nodePort(8080)));
    await run(t.clock, 100);
    expect(nodePortsOf(await t.spec("second"))).toEqual([30080]);
    expect(nodePortsOf(await t.spec("third"))).toEqual([8080]);
    expect(t.warnings().sort()).toEqual(["second PortAlreadyAllocated", "third PortOutOfRange"]);
    t.stop();
  });

  it("a full range is a Warning; a deleted Service frees its address for the next", async () => {
    // a /30 holds two usable addresses
    const t = await setup([serviceObject("a"), serviceObject("b"), serviceObject("c")], {
      clusterIPCidr: "127.96.0.0/30",
    });
    const ips = async () =>
      Promise.all(["a", "b", "c"].map(async (n) => (await t.spec(n)).clusterIP));
    expect((await ips()).filter((ip) => ip !== undefined)).toHaveLength(2);
    expect(t.warnings()).toHaveLength(1);
    expect(t.warnings()[0]).toMatch(/ClusterIPAllocationFailed$/);
    const waiting = ["a", "b", "c"][(await ips()).indexOf(undefined)] as string;
    const other = ["a", "b", "c"].find((n) => n !== waiting) as string;
    const freed = (await t.spec(other)).clusterIP;
    await t.api.delete("services", other, { namespace: NS });
    await run(t.clock, RANGE_FULL_RETRY_MS + 100, 100);
    expect((await t.spec(waiting)).clusterIP).toBe(freed);
    t.stop();
  });
});

describe("allocation never repeats (property)", () => {
  // a small range makes collisions likely: 14 addresses, 12 NodePorts
  const CIDR = "127.96.0.0/28";
  const PORTS = { first: 30000, last: 30011 };
  const ipRange = cidrRange(CIDR);

  it("any order of Services, user-chosen values free when chosen, a trailing cache: all distinct, all in range", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            // a user-chosen cluster IP (index into the range) or none
            ip: fc.option(fc.integer({ min: 0, max: 13 }), { nil: undefined }),
            nodePort: fc.option(fc.integer({ min: PORTS.first, max: PORTS.last }), {
              nil: undefined,
            }),
            type: fc.constantFrom("ClusterIP", "NodePort"),
            gapMs: fc.integer({ min: 0, max: 40 }),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        fc.integer({ min: 0, max: 200 }),
        fc.array(fc.nat(), { minLength: 16, maxLength: 16 }),
        async (specs, lag, draws) => {
          let drawn = 0;
          const t = await setup(
            [],
            {
              clusterIPCidr: CIDR,
              nodePortRange: PORTS,
              random: (bound) => (draws[drawn++ % draws.length] ?? 0) % bound,
            },
            () => lag,
          );
          /** What the API holds right now: a user may choose only what is free at that moment. */
          const taken = () => {
            const all = t.api.all("services", NS).map((s) => s.spec as JsonObject);
            return {
              ips: new Set(all.map((s) => s.clusterIP)),
              ports: new Set(all.flatMap(nodePortsOf)),
            };
          };
          const chosen = new Map<string, { ip?: string; nodePort?: number }>();
          for (const [i, s] of specs.entries()) {
            const name = `s${i}`;
            const spec: JsonObject = { type: s.type };
            const pick: { ip?: string; nodePort?: number } = {};
            const now = taken();
            if (s.ip !== undefined) {
              const ip = numberToIpv4(ipRange.first + s.ip);
              if (!now.ips.has(ip)) pick.ip = spec.clusterIP = ip;
            }
            const port: JsonObject = { port: 80, protocol: "TCP" };
            if (s.type === "NodePort" && s.nodePort !== undefined && !now.ports.has(s.nodePort))
              pick.nodePort = port.nodePort = s.nodePort;
            spec.ports = [port];
            chosen.set(name, pick);
            await t.api.create("services", serviceObject(name, spec));
            await run(t.clock, s.gapMs, 5);
          }
          await run(t.clock, 2_000, 20);
          const all = t.api.all("services", NS);
          t.stop();
          const ips = all.map((s) => String((s.spec as JsonObject).clusterIP));
          const ports = all
            .flatMap((s) => nodePortsOf(s.spec as JsonObject))
            .filter((p) => p !== undefined);
          // everyone got a value (14 addresses ≥ 12 Services, 12 ports ≥ 12 NodePort Services)
          expect(ips.every((ip) => inRange(ipRange, ipv4ToNumber(ip) ?? -1))).toBe(true);
          expect(new Set(ips).size).toBe(ips.length);
          expect(ports).toHaveLength(
            all.filter((s) => (s.spec as JsonObject).type === "NodePort").length,
          );
          expect(ports.every((p) => inRange(PORTS, Number(p)))).toBe(true);
          expect(new Set(ports).size).toBe(ports.length);
          // user-chosen values were never overwritten, and none collided
          for (const s of all) {
            const pick = chosen.get(String(meta(s).name));
            const spec = s.spec as JsonObject;
            if (pick?.ip) expect(spec.clusterIP).toBe(pick.ip);
            if (pick?.nodePort) expect(nodePortsOf(spec)).toEqual([pick.nodePort]);
          }
          expect(t.warnings()).toEqual([]);
        },
      ),
      { numRuns: 60 },
    );
  });
});
