/**
 * The Service allocation repair controller against the in-memory API under a ManualClock (the
 * allocating itself is the API server's, in test/unit/apiserver/service-allocator.test.ts):
 * user-chosen values that collide or fall outside the range get Warning Events and are never
 * overwritten; a Service created before the API server allocated is written back once for the
 * API server to allocate; a full range is a Warning and another look later.
 */
import { describe, expect, it } from "vitest";
import {
  cidrRange,
  inRange,
  ipv4ToNumber,
  numberToIpv4,
  pickFree,
} from "../../../actors/api/allocation-range.ts";
import type { JsonObject } from "../../../actors/api/json.ts";
import { internalErrorStatus } from "../../../actors/api/status.ts";
import { ApiError } from "../../../actors/client/errors.ts";
import {
  DEFAULT_NODE_PORT_RANGE,
  DEFAULT_SERVICE_CLUSTER_IP_CIDR,
  RANGE_FULL_RETRY_MS,
  type ServiceAllocationOptions,
  serviceIPAllocationController,
} from "../../../actors/controllers/service-ip-allocation.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { FakeApi } from "./fake-api.ts";
import { meta, NS, run, serviceObject, startControllers } from "./service-fixtures.ts";

async function setup(
  services: JsonObject[] = [],
  options: Partial<ServiceAllocationOptions> = {},
  api = new FakeApi(),
) {
  const clock = new ManualClock();
  for (const s of services) await api.create("services", s);
  const runtime = startControllers(
    api,
    clock,
    [(ctx) => serviceIPAllocationController(ctx, options)],
    api,
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

describe("Service allocation repair", () => {
  it("a Service without its values (created before the API server allocated) is written back once", async () => {
    const t = await setup([
      serviceObject("old"),
      serviceObject("headless", { clusterIP: "None" }),
      serviceObject("ext", { type: "ExternalName", externalName: "example.com" }),
      serviceObject("done", { clusterIP: "127.96.0.9", clusterIPs: ["127.96.0.9"] }),
    ]);
    // the in-memory API does not allocate: the write back happens once, not in a loop
    await run(t.clock, 1_000, 100);
    expect(t.api.writes.filter((w) => w.startsWith("update services"))).toEqual([
      "update services old",
    ]);
    t.stop();
  });

  it("a full range on the write back is a Warning and another look later", async () => {
    const api = new FakeApi();
    api.failNext.update = new ApiError(
      internalErrorStatus("failed to allocate a serviceIP: range is full"),
    );
    const t = await setup([serviceObject("waiting")], {}, api);
    expect(t.warnings()).toEqual(["waiting ClusterIPAllocationFailed"]);
    expect(t.api.writes.filter((w) => w.startsWith("update services"))).toEqual([]);
    await run(t.clock, RANGE_FULL_RETRY_MS + 100, 100);
    expect(t.api.writes.filter((w) => w.startsWith("update services"))).toEqual([
      "update services waiting",
    ]);
    t.stop();
  });

  it("a user-chosen clusterIP that another Service holds is kept and warned about, once", async () => {
    const ip = { clusterIP: "127.96.0.10", clusterIPs: ["127.96.0.10"] };
    const t = await setup([serviceObject("first", ip)]);
    await t.api.create("services", serviceObject("second", ip));
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
});
