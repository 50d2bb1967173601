/**
 * Cluster IPs and NodePorts allocated inside the Service's create and update (kube-apiserver's
 * Service REST storage with its allocators), against one real MVCC store shared by several API
 * servers with no leader: the create answers with its values; user-chosen values that are taken
 * or out of range are 422 Invalid, a full range a 500 `range is full`; delete and type changes
 * release; and, the property that matters, concurrent creates on several API servers never
 * share a value.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cidrRange, inRange, ipv4ToNumber } from "../../../actors/api/allocation-range.ts";
import type { JsonObject, JsonValue } from "../../../actors/api/json.ts";
import { KUBERNETES_SERVICE_IP } from "../../../actors/api/well-known.ts";
import { kubernetesService } from "../../../actors/apiserver/kubernetes-service.ts";
import { ObjectStore } from "../../../actors/apiserver/object-store.ts";
import {
  NODE_PORT_KEYS_PREFIX,
  SERVICE_IP_KEYS_PREFIX,
} from "../../../actors/apiserver/registry-keys.ts";
import {
  ownerUidOf,
  ServiceAllocator,
  type ServiceAllocatorOptions,
} from "../../../actors/apiserver/service-allocator.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import type { StoreClient } from "../../../raft/client/store-client.ts";
import type { MvccCommand } from "../../../raft/mvcc/commands.ts";
import { prefixRangeEnd } from "../../../raft/mvcc/key-range.ts";
import { MemoryBackend } from "../../../raft/mvcc/memory-backend.ts";
import { MvccStore, type RangeRequest } from "../../../raft/mvcc/store.ts";
import { type RestCall, restCaller } from "./rest-harness.ts";

const SERVICES = "/api/v1/namespaces/default/services";

/** One MVCC store; each API server's client yields before every call, so their steps interleave. */
class SharedStore {
  private index = 0;
  private constructor(readonly mvcc: MvccStore) {}

  static async open(): Promise<SharedStore> {
    return new SharedStore(await MvccStore.open(new MemoryBackend()));
  }

  client(): StoreClient {
    const self = this;
    const yieldOnce = () => new Promise((resolve) => setImmediate(resolve));
    return {
      async range(request: RangeRequest) {
        await yieldOnce();
        const r = await self.mvcc.range(request);
        if (r.kind === "error") throw new Error(r.error);
        return r;
      },
      async write(command: MvccCommand) {
        await yieldOnce();
        const outcome = await self.mvcc.apply(++self.index, { command });
        if (outcome.status !== "applied") throw new Error(`not applied: ${outcome.status}`);
        return outcome.response;
      },
    } as unknown as StoreClient; // only range and write are used without a watch cache
  }

  async keys(prefix: string): Promise<string[]> {
    const key = Buffer.from(prefix);
    const r = await this.mvcc.range({ key, rangeEnd: prefixRangeEnd(key) });
    if (r.kind === "error") throw new Error(r.error);
    return r.kvs.map((kv) => Buffer.from(kv.key).toString("utf8"));
  }
}

/** `servers` API servers over one store, with the default namespace. */
async function cluster(servers = 1, options: Partial<ServiceAllocatorOptions> = {}) {
  const shared = await SharedStore.open();
  const clock = new ManualClock(0, Date.parse("2026-12-07T10:00:00Z"));
  const calls: RestCall[] = [];
  for (let i = 0; i < servers; i++)
    calls.push(restCaller(new ObjectStore(() => shared.client()), clock, options));
  const call = calls[0] as RestCall;
  const ns = await call("POST", "/api/v1/namespaces", { metadata: { name: "default" } });
  expect(ns.code).toBe(201);
  return { shared, call, calls };
}

function service(name: string, spec: JsonObject = {}): JsonObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name },
    spec: { ports: [{ port: 80, protocol: "TCP" }], selector: { app: name }, ...spec },
  };
}

const specOf = (o: JsonObject) => o.spec as JsonObject;
const nodePortsOf = (o: JsonObject) =>
  ((specOf(o).ports ?? []) as JsonObject[]).map((p) => p.nodePort);
const range = cidrRange("127.96.0.0/12");
const isClusterIP = (ip: JsonValue | undefined) => inRange(range, ipv4ToNumber(String(ip)) ?? -1);

describe("the Service create answers with its cluster IP and NodePorts", () => {
  it("ClusterIP, NodePort and LoadBalancer get an IP; headless and ExternalName none; keys hold the values", async () => {
    const { call, shared } = await cluster();
    const web = await call("POST", SERVICES, service("web"));
    expect(web.code).toBe(201);
    expect(isClusterIP(specOf(web.body).clusterIP)).toBe(true);
    expect(specOf(web.body).clusterIPs).toEqual([specOf(web.body).clusterIP]);
    // the range's first address is the kubernetes Service's: never picked
    expect(specOf(web.body).clusterIP).not.toBe("127.96.0.1");
    const headless = await call("POST", SERVICES, service("headless", { clusterIP: "None" }));
    expect(specOf(headless.body).clusterIP).toBe("None");
    const ext = await call(
      "POST",
      SERVICES,
      service("ext", { type: "ExternalName", externalName: "example.com", ports: [] }),
    );
    expect(ext.code).toBe(201);
    expect(specOf(ext.body).clusterIP).toBeUndefined();
    expect(await shared.keys(SERVICE_IP_KEYS_PREFIX)).toEqual([
      `${SERVICE_IP_KEYS_PREFIX}${specOf(web.body).clusterIP}`,
    ]);
    // the keys are not Services: a list shows only the three
    const list = await call("GET", SERVICES);
    expect((list.body.items as JsonObject[]).map((s) => (s.metadata as JsonObject).name)).toEqual([
      "ext",
      "headless",
      "web",
    ]);
  });

  it("TCP and UDP of one port share a NodePort; LoadBalancer may opt out of NodePorts", async () => {
    const { call } = await cluster();
    const np = await call(
      "POST",
      SERVICES,
      service("dns", {
        type: "NodePort",
        ports: [
          { name: "dns-tcp", port: 53, protocol: "TCP" },
          { name: "dns-udp", port: 53, protocol: "UDP" },
          { name: "web", port: 80, protocol: "TCP" },
        ],
      }),
    );
    const [tcp, udp, web] = nodePortsOf(np.body);
    expect(tcp).toBe(udp);
    expect(web).not.toBe(tcp);
    for (const p of [tcp, web])
      expect(inRange({ first: 30000, last: 32767 }, Number(p))).toBe(true);
    const lb = await call(
      "POST",
      SERVICES,
      service("lb", { type: "LoadBalancer", allocateLoadBalancerNodePorts: false }),
    );
    expect(nodePortsOf(lb.body)).toEqual([undefined]);
    expect(isClusterIP(specOf(lb.body).clusterIP)).toBe(true);
  });

  it("a LoadBalancer with externalTrafficPolicy Local gets a healthCheckNodePort, released when the policy changes", async () => {
    const { call, shared } = await cluster();
    const lb = await call(
      "POST",
      SERVICES,
      service("lb", { type: "LoadBalancer", externalTrafficPolicy: "Local" }),
    );
    expect(lb.code).toBe(201);
    const [port] = nodePortsOf(lb.body);
    const healthCheck = specOf(lb.body).healthCheckNodePort;
    expect(inRange({ first: 30000, last: 32767 }, Number(healthCheck))).toBe(true);
    expect(healthCheck).not.toBe(port);
    expect((await shared.keys(NODE_PORT_KEYS_PREFIX)).sort()).toEqual(
      [`${NODE_PORT_KEYS_PREFIX}${port}`, `${NODE_PORT_KEYS_PREFIX}${healthCheck}`].sort(),
    );
    // a Cluster policy needs none: the port goes back to the range
    const merge = "application/merge-patch+json";
    const cluster_ = await call(
      "PATCH",
      `${SERVICES}/lb`,
      { spec: { externalTrafficPolicy: "Cluster" } },
      merge,
    );
    expect(cluster_.code).toBe(200);
    expect(specOf(cluster_.body).healthCheckNodePort).toBeUndefined();
    expect(await shared.keys(NODE_PORT_KEYS_PREFIX)).toEqual([`${NODE_PORT_KEYS_PREFIX}${port}`]);
    // a chosen one that another Service holds is refused
    const clash = await call(
      "POST",
      SERVICES,
      service("clash", {
        type: "LoadBalancer",
        externalTrafficPolicy: "Local",
        healthCheckNodePort: Number(port),
      }),
    );
    expect(clash.code).toBe(422);
    expect(JSON.stringify(clash.body)).toContain("spec.healthCheckNodePort");
  });

  it("a user-chosen IP or NodePort that is taken or out of range is 422 Invalid, worded as kube-apiserver's", async () => {
    const { call } = await cluster(2);
    expect((await call("POST", SERVICES, service("a", { clusterIP: "127.96.0.10" }))).code).toBe(
      201,
    );
    const taken = await call("POST", SERVICES, service("b", { clusterIP: "127.96.0.10" }));
    expect(taken.code).toBe(422);
    expect(taken.body.message).toBe(
      'Service "b" is invalid: spec.clusterIPs: Invalid value: ["127.96.0.10"]: failed to allocate IP 127.96.0.10: provided IP is already allocated',
    );
    const outside = await call("POST", SERVICES, service("c", { clusterIP: "10.0.0.1" }));
    expect(outside.code).toBe(422);
    expect(String(outside.body.message)).toContain(
      "failed to allocate IP 10.0.0.1: the provided IP (10.0.0.1) is not in the valid range. The range of valid IPs is 127.96.0.0/12",
    );
    const nodePort = (n: number) => ({
      type: "NodePort",
      ports: [{ port: 80, protocol: "TCP", nodePort: n }],
    });
    expect((await call("POST", SERVICES, service("p", nodePort(30080)))).code).toBe(201);
    const port = await call("POST", SERVICES, service("q", nodePort(30080)));
    expect(port.code).toBe(422);
    expect(String(port.body.message)).toContain(
      "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated",
    );
    const low = await call("POST", SERVICES, service("r", nodePort(8080)));
    expect(String(low.body.message)).toContain(
      "provided port is not in the valid range. The range of valid ports is 30000-32767",
    );
  });

  it("the kubernetes Service holds the reserved first address; a full range is a 500 `range is full`; a deleted Service frees its address", async () => {
    // a /29 holds six addresses, the first reserved: five to pick
    const { call, shared } = await cluster(1, { clusterIPCidr: "127.96.0.0/29" });
    // the kubernetes Service takes the reserved first address by name, as every API server
    // asks each round: the second ask is AlreadyExists, not an allocation error
    const apiService = kubernetesService(KUBERNETES_SERVICE_IP, 6443);
    expect((await call("POST", SERVICES, apiService)).code).toBe(201);
    expect((await call("POST", SERVICES, apiService)).code).toBe(409);
    const ips: string[] = [];
    for (const n of ["a", "b", "c", "d", "e"])
      ips.push(String(specOf((await call("POST", SERVICES, service(n))).body).clusterIP));
    expect(new Set(ips).size).toBe(5);
    expect(ips).not.toContain(KUBERNETES_SERVICE_IP);
    const full = await call("POST", SERVICES, service("f"));
    expect(full.code).toBe(500);
    expect(full.body.message).toContain("failed to allocate a serviceIP: range is full");
    expect((await call("DELETE", `${SERVICES}/c`)).code).toBe(200);
    expect(await shared.keys(SERVICE_IP_KEYS_PREFIX)).toHaveLength(5); // 4 + the kubernetes Service
    const next = await call("POST", SERVICES, service("f"));
    expect(specOf(next.body).clusterIP).toBe(ips[2]);
  });

  it("a type change allocates what is newly needed and releases what is no longer held", async () => {
    const { call, shared } = await cluster();
    const created = await call("POST", SERVICES, service("web"));
    const ip = specOf(created.body).clusterIP;
    const merge = "application/merge-patch+json";
    const np = await call("PATCH", `${SERVICES}/web`, { spec: { type: "NodePort" } }, merge);
    expect(np.code).toBe(200);
    expect(specOf(np.body).clusterIP).toBe(ip);
    const [port] = nodePortsOf(np.body);
    expect(await shared.keys(NODE_PORT_KEYS_PREFIX)).toEqual([`${NODE_PORT_KEYS_PREFIX}${port}`]);
    const back = await call("PATCH", `${SERVICES}/web`, { spec: { type: "ClusterIP" } }, merge);
    expect(back.code).toBe(200);
    expect(nodePortsOf(back.body)).toEqual([undefined]);
    expect(await shared.keys(NODE_PORT_KEYS_PREFIX)).toEqual([]);
    const ext = await call(
      "PATCH",
      `${SERVICES}/web`,
      { spec: { type: "ExternalName", externalName: "example.com" } },
      merge,
    );
    expect(ext.code).toBe(200);
    expect(specOf(ext.body).clusterIP).toBeUndefined();
    expect(await shared.keys(SERVICE_IP_KEYS_PREFIX)).toEqual([]);
  });

  it("a Service created before the API server allocated gets its values on its next update", async () => {
    const { call, shared } = await cluster();
    // as the old controller-less create stored it: no clusterIP, no key
    const legacy = new ObjectStore(() => shared.client());
    const body = { ...service("old"), metadata: { name: "old", namespace: "default", uid: "u1" } };
    await legacy.create("/registry/core/services/default/old", body, null);
    const current = await call("GET", `${SERVICES}/old`);
    const updated = await call("PUT", `${SERVICES}/old`, current.body);
    expect(isClusterIP(specOf(updated.body).clusterIP)).toBe(true);
    expect(await shared.keys(SERVICE_IP_KEYS_PREFIX)).toHaveLength(1);
  });
});

describe("allocation repair", () => {
  it("a key whose Service is gone is released; a value held without a key gets one, the oldest holder first", async () => {
    const { call, shared } = await cluster();
    const raw = new ObjectStore(() => shared.client());
    const allocator = new ServiceAllocator(raw);
    const gone = await call("POST", SERVICES, service("gone", { clusterIP: "127.96.0.20" }));
    expect(gone.code).toBe(201);
    // removed behind the API's back, as a namespace's deletion takes its Services
    await raw.delete(
      "/registry/core/services/default/gone",
      Number((gone.body.metadata as JsonObject).resourceVersion),
    );
    // two Services from before the keys, sharing an address: the older keeps it
    const legacy = (name: string, created: string) => ({
      ...service(name, { clusterIP: "127.96.0.30", clusterIPs: ["127.96.0.30"] }),
      metadata: { name, namespace: "default", uid: `uid-${name}`, creationTimestamp: created },
    });
    await raw.create(
      "/registry/core/services/default/young",
      legacy("young", "2026-12-02T00:00:00Z"),
      null,
    );
    await raw.create(
      "/registry/core/services/default/old",
      legacy("old", "2026-12-01T00:00:00Z"),
      null,
    );
    expect(await allocator.repair()).toEqual({ released: 1, recorded: 1 });
    expect(await shared.keys(SERVICE_IP_KEYS_PREFIX)).toEqual([
      `${SERVICE_IP_KEYS_PREFIX}127.96.0.30`,
    ]);
    const key = await raw.get(`${SERVICE_IP_KEYS_PREFIX}127.96.0.30`, false);
    expect(ownerUidOf(key?.object ?? {})).toBe("uid-old");
    // a second round finds nothing to do
    expect(await allocator.repair()).toEqual({ released: 0, recorded: 0 });
    // the released address is free again; the recorded one is taken
    expect(
      (await call("POST", SERVICES, service("again", { clusterIP: "127.96.0.20" }))).code,
    ).toBe(201);
    expect((await call("POST", SERVICES, service("twin", { clusterIP: "127.96.0.30" }))).code).toBe(
      422,
    );
  });

  it("a leaked key is taken over by the next create that picks its value, without a repair", async () => {
    const { call, shared } = await cluster(1, { clusterIPCidr: "127.96.0.0/30" }); // one to pick
    const raw = new ObjectStore(() => shared.client());
    const first = await call("POST", SERVICES, service("first"));
    const ip = specOf(first.body).clusterIP;
    await raw.delete(
      "/registry/core/services/default/first",
      Number((first.body.metadata as JsonObject).resourceVersion),
    );
    const next = await call("POST", SERVICES, service("next"));
    expect(next.code).toBe(201);
    expect(specOf(next.body).clusterIP).toBe(ip);
    const key = await raw.get(`${SERVICE_IP_KEYS_PREFIX}${ip}`, false);
    expect(ownerUidOf(key?.object ?? {})).toBe((next.body.metadata as JsonObject).uid);
  });
});

describe("no two Services share a value (property)", () => {
  it("concurrent creates on three API servers with colliding random picks: all distinct, all in range", async () => {
    const CIDR = "127.96.0.0/28"; // 13 addresses to pick
    const PORTS = { first: 30000, last: 30011 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            server: fc.integer({ min: 0, max: 2 }),
            type: fc.constantFrom("ClusterIP", "NodePort"),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        fc.array(fc.nat(3), { minLength: 4, maxLength: 4 }),
        async (creates, draws) => {
          let drawn = 0;
          // few distinct starts: the servers keep picking the same candidates
          const random = (bound: number) => (draws[drawn++ % draws.length] ?? 0) % bound;
          const { calls } = await cluster(3, {
            clusterIPCidr: CIDR,
            nodePortRange: PORTS,
            random,
          });
          const results = await Promise.all(
            creates.map((c, i) =>
              (calls[c.server] as RestCall)("POST", SERVICES, service(`s${i}`, { type: c.type })),
            ),
          );
          for (const r of results) expect(r.code).toBe(201);
          const ips = results.map((r) => String(specOf(r.body).clusterIP));
          expect(new Set(ips).size).toBe(ips.length);
          expect(ips.every((ip) => inRange(cidrRange(CIDR), ipv4ToNumber(ip) ?? -1))).toBe(true);
          const ports = results.flatMap((r) => nodePortsOf(r.body)).filter((p) => p !== undefined);
          expect(new Set(ports).size).toBe(ports.length);
          expect(ports.every((p) => inRange(PORTS, Number(p)))).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });
});
