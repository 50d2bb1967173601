/**
 * Hollow nodes' fake addresses: every node its own /24 above the real nodes' 127.200–127.249
 * range, its InternalIP kept out of its pod pool, so pod IPs are distinct cluster-wide.
 */
import { describe, expect, it } from "vitest";
import {
  hollowHostIP,
  hollowNodeName,
  hollowPodCidr,
  MAX_HOLLOW_NODES,
} from "../../../actors/kubelet/hollow-nodes.ts";
import { ipToNumber, PodIpAllocator } from "../../../actors/kubelet/pod-ip-allocator.ts";
import { podCidrFor } from "../../../cmd/node/workloads-role.ts";

describe("hollow nodes", () => {
  it("names nodes hollow-0001 …", () => {
    expect(hollowNodeName("hollow-", 1)).toBe("hollow-0001");
    expect(hollowNodeName("h-", 1234)).toBe("h-1234");
  });

  it("gives every index its own /24 in 127.250.0.0–127.255.255.255", () => {
    const cidrs = new Set<string>();
    for (let i = 0; i < MAX_HOLLOW_NODES; i++) cidrs.add(hollowPodCidr(i));
    expect(cidrs.size).toBe(MAX_HOLLOW_NODES);
    expect(hollowPodCidr(0)).toBe("127.250.0.0/24");
    expect(hollowPodCidr(MAX_HOLLOW_NODES - 1)).toBe("127.255.255.0/24");
    expect(() => hollowPodCidr(MAX_HOLLOW_NODES)).toThrow(/index/);
  });

  it("never overlaps a real node's pod range", () => {
    const realTop = ipToNumber("127.249.255.255");
    for (const host of ["127.0.0.11", "127.249.255.49", "127.141.7.20"])
      expect(ipToNumber(podCidrFor(host).split("/")[0] ?? "")).toBeLessThanOrEqual(realTop);
    expect(ipToNumber("127.250.0.0")).toBeGreaterThan(realTop);
  });

  it("keeps the node's InternalIP out of its pods' addresses", () => {
    const allocator = new PodIpAllocator({ cidr: hollowPodCidr(7), reserved: [hollowHostIP(7)] });
    const ips = Array.from({ length: 110 }, () => allocator.allocate());
    expect(hollowHostIP(7)).toBe("127.250.7.1");
    expect(ips).not.toContain("127.250.7.1");
    expect(new Set(ips).size).toBe(110);
  });
});
