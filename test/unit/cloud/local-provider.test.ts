/**
 * The local cloud provider over a real state directory: external IPs from the pool, idempotent
 * ensures, port claims (sharing an IP when ports differ, PortClash when they do not), pool
 * exhaustion with a reason, deletion giving everything back; instances are node processes.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { LoadBalancerUnavailableError } from "../../../actors/cloud/cloud-provider.ts";
import { procStat } from "../../../actors/cloud/local/instance-process.ts";
import { LocalCloudState } from "../../../actors/cloud/local/local-cloud-state.ts";
import { LocalCloudProvider } from "../../../actors/cloud/local/local-provider.ts";
import { builtInCloudProviders } from "../../../actors/cloud/providers.ts";

let dir: string;
let state: LocalCloudState;
let cloud: LocalCloudProvider;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "bosun-cloud-"));
  state = new LocalCloudState(dir);
  state.writeConfig({ pool: "127.240.7.0/29", zones: { n2: "zone-b" } });
  cloud = new LocalCloudProvider(state);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

function service(
  name: string,
  ports: [string, number, number][],
  spec: JsonObject = {},
): JsonObject {
  return {
    metadata: { name, namespace: "default", uid: `uid-${name}-0000-1111` },
    spec: {
      type: "LoadBalancer",
      ports: ports.map(([protocol, port, nodePort]) => ({ protocol, port, nodePort })),
      ...spec,
    },
  };
}

function node(name: string, address: string): JsonObject {
  return {
    metadata: { name },
    status: {
      addresses: [{ type: "InternalIP", address }],
      conditions: [{ type: "Ready", status: "True" }],
    },
  };
}

const lb = () => cloud.loadBalancer();
const reasonOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return "none";
  } catch (error) {
    return error instanceof LoadBalancerUnavailableError ? error.reason : String(error);
  }
};

describe("local load balancers", () => {
  it("the first Service gets the pool's first address; ensuring again changes nothing", async () => {
    const svc = service("web", [["TCP", 80, 30080]]);
    const status = await lb().ensureLoadBalancer("c", svc, [node("n1", "127.0.0.11")]);
    expect(status.ingress).toEqual([
      { ip: "127.240.7.1", ipMode: "VIP", ports: [{ port: 80, protocol: "TCP" }] },
    ]);
    expect(await lb().ensureLoadBalancer("c", svc, [node("n1", "127.0.0.11")])).toEqual(status);
    expect(state.loadBalancers()).toHaveLength(1);
    expect(state.loadBalancers()[0]?.backends).toEqual([{ node: "n1", address: "127.0.0.11" }]);
    expect(lb().getLoadBalancerName("c", svc)).toBe("auidweb00001111");
  });

  it("the pool runs out: ExternalIPPoolExhausted naming the pool; a deletion frees an address", async () => {
    // a /29 has 6 addresses
    for (let i = 0; i < 6; i++)
      await lb().ensureLoadBalancer("c", service(`s${i}`, [["TCP", 80, 30000 + i]]), []);
    const seventh = service("s6", [["TCP", 80, 30006]]);
    await expect(lb().ensureLoadBalancer("c", seventh, [])).rejects.toThrow(/127\.240\.7\.0\/29/);
    expect(await reasonOf(lb().ensureLoadBalancer("c", seventh, []))).toBe(
      "ExternalIPPoolExhausted",
    );
    await lb().ensureLoadBalancerDeleted("c", service("s2", []));
    expect((await lb().ensureLoadBalancer("c", seventh, [])).ingress[0]?.ip).toBe("127.240.7.3");
  });

  it("a requested loadBalancerIP is shared when ports differ, a PortClash when they do not", async () => {
    const a = service("a", [["TCP", 80, 30001]], { loadBalancerIP: "127.240.7.5" });
    const b = service("b", [["UDP", 80, 30002]], { loadBalancerIP: "127.240.7.5" });
    const c = service("c", [["TCP", 80, 30003]], { loadBalancerIP: "127.240.7.5" });
    expect((await lb().ensureLoadBalancer("k", a, [])).ingress[0]?.ip).toBe("127.240.7.5");
    expect((await lb().ensureLoadBalancer("k", b, [])).ingress[0]?.ip).toBe("127.240.7.5");
    await expect(lb().ensureLoadBalancer("k", c, [])).rejects.toThrow(
      /TCP\/80 of 127\.240\.7\.5 is already used by the load balancer of Service default\/a/,
    );
    expect(
      await reasonOf(
        lb().ensureLoadBalancer(
          "k",
          service("d", [["TCP", 80, 1]], { loadBalancerIP: "10.0.0.1" }),
          [],
        ),
      ),
    ).toBe("InvalidLoadBalancerIP");
    // the clash took nothing: a's listener is still a's
    expect(state.claimHolder("127.240.7.5", "TCP", 80)).toBe(lb().getLoadBalancerName("k", a));
  });

  it("a port added to an existing load balancer that clashes: nothing it held is given away", async () => {
    const ip = "127.240.7.5";
    const a = service("a", [["TCP", 80, 30001]], { loadBalancerIP: ip });
    await lb().ensureLoadBalancer("k", a, []);
    await lb().ensureLoadBalancer(
      "k",
      service("b", [["TCP", 443, 30002]], { loadBalancerIP: ip }),
      [],
    );
    const grown = service(
      "a",
      [
        ["TCP", 80, 30001],
        ["TCP", 8080, 30003],
        ["TCP", 443, 30004],
      ],
      {
        loadBalancerIP: ip,
      },
    );
    expect(await reasonOf(lb().ensureLoadBalancer("k", grown, []))).toBe("PortClash");
    const aName = lb().getLoadBalancerName("k", a);
    expect(state.claimHolder(ip, "TCP", 80)).toBe(aName);
    expect(state.claimHolder(ip, "TCP", 8080)).toBeNull();
    expect(state.loadBalancer(aName)?.ports.map((p) => p.port)).toEqual([80]);
  });

  it("mixed TCP and UDP ports on one load balancer; a removed port is given back", async () => {
    const svc = service("dns", [
      ["TCP", 53, 30053],
      ["UDP", 53, 30054],
    ]);
    const ip = (await lb().ensureLoadBalancer("c", svc, [])).ingress[0]?.ip as string;
    expect(state.claimHolder(ip, "UDP", 53)).not.toBeNull();
    await lb().ensureLoadBalancer("c", service("dns", [["TCP", 53, 30053]]), []);
    expect(state.claimHolder(ip, "UDP", 53)).toBeNull();
    expect(state.claimHolder(ip, "TCP", 53)).not.toBeNull();
  });

  it("updateLoadBalancer changes only the backends; deleted, the record and claims are gone", async () => {
    const svc = service("web", [["TCP", 80, 30080]]);
    const ip = (await lb().ensureLoadBalancer("c", svc, [node("n1", "127.0.0.11")])).ingress[0]
      ?.ip as string;
    await lb().updateLoadBalancer("c", svc, [node("n2", "127.0.0.12"), node("n1", "127.0.0.11")]);
    expect(state.loadBalancers()[0]?.backends.map((b) => b.node)).toEqual(["n1", "n2"]);
    expect(state.loadBalancers()[0]?.ip).toBe(ip);
    await lb().ensureLoadBalancerDeleted("c", svc);
    await lb().ensureLoadBalancerDeleted("c", svc); // idempotent
    expect(state.loadBalancers()).toEqual([]);
    expect(state.claimedIps().size).toBe(0);
    expect(await lb().getLoadBalancer("c", svc)).toBeNull();
  });

  it("externalTrafficPolicy Local with a healthCheckNodePort is checked over HTTP, else over TCP", async () => {
    await lb().ensureLoadBalancer(
      "c",
      service("l", [["TCP", 80, 30080]], {
        externalTrafficPolicy: "Local",
        healthCheckNodePort: 32000,
      }),
      [],
    );
    await lb().ensureLoadBalancer("c", service("t", [["TCP", 81, 30081]]), []);
    const checks = Object.fromEntries(state.loadBalancers().map((r) => [r.service, r.healthCheck]));
    expect(checks).toEqual({
      "default/l": { kind: "http", port: 32000 },
      "default/t": { kind: "tcp" },
    });
  });
});

describe("local instances and zones", () => {
  it("a running process is an instance that exists and runs; its zone is configured or its own", async () => {
    state.putInstance({
      id: "n2",
      pid: process.pid,
      startTicks: procStat(process.pid)?.startTicks ?? null,
      address: "127.0.0.12",
    });
    const instances = cloud.instancesV2();
    const n2 = node("n2", "127.0.0.12");
    expect(await instances.instanceExists(n2)).toBe(true);
    expect(await instances.instanceShutdown(n2)).toBe(false);
    expect(await instances.instanceMetadata(n2)).toEqual({
      providerID: "local://n2",
      instanceType: "bosun.process",
      nodeAddresses: [
        { type: "InternalIP", address: "127.0.0.12" },
        { type: "Hostname", address: "n2" },
      ],
      zone: "zone-b",
      region: "local",
    });
    expect(await cloud.zones().getZoneByNodeName("n5")).toEqual({
      failureDomain: "local-n5",
      region: "local",
    });
    expect(await cloud.zones().getZoneByProviderID("local://n2")).toEqual({
      failureDomain: "zone-b",
      region: "local",
    });
  });

  it("a dead process is shut down; a stopped (SIGSTOP) one too; a terminated one is gone", async () => {
    const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], {
      stdio: "ignore",
    });
    const pid = child.pid as number;
    try {
      await new Promise((r) => setTimeout(r, 50));
      state.putInstance({
        id: "n3",
        pid,
        startTicks: procStat(pid)?.startTicks ?? null,
        address: "127.0.0.13",
      });
      const n3 = node("n3", "127.0.0.13");
      const instances = cloud.instancesV2();
      expect(await instances.instanceShutdown(n3)).toBe(false);
      process.kill(pid, "SIGSTOP");
      await new Promise((r) => setTimeout(r, 50));
      expect(await instances.instanceShutdown(n3)).toBe(true);
      process.kill(pid, "SIGKILL");
      await new Promise((r) => child.once("exit", r));
      expect(await instances.instanceShutdown(n3)).toBe(true);
      expect(await instances.instanceExists(n3)).toBe(true);
      state.deleteInstance("n3");
      expect(await instances.instanceExists(n3)).toBe(false);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });
});

describe("provider registry", () => {
  it("builds the local provider by name; an unknown name lists the known ones", () => {
    const registry = builtInCloudProviders();
    expect(registry.build("local", { stateDir: dir }).providerName()).toBe("local");
    expect(() => registry.build("aws", {})).toThrow('unknown cloud provider "aws" (known: local)');
    expect(() => registry.build("local", {})).toThrow(/stateDir/);
    expect(cloud.clusters()).toBeNull();
  });
});
