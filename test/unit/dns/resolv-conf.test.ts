/**
 * Pods' resolv.conf per dnsPolicy (the kubelet's pkg/kubelet/network/dns), and glibc's reading of
 * the file: the search path tried before the name itself when it has fewer than `ndots` dots.
 */
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import {
  candidateNames,
  parseResolvConf,
  podResolvConf,
  renderResolvConf,
} from "../../../actors/api/resolv-conf.ts";

const host = parseResolvConf(
  "# host\nnameserver 10.0.0.53\nnameserver 10.0.0.54\nsearch corp.example\noptions timeout:2\n",
);
const cluster = { nameserver: "127.96.0.10", domain: "cluster.local" };
const pod = (spec: JsonObject, namespace = "shop"): JsonObject => ({
  metadata: { name: "p", namespace },
  spec,
});

describe("dnsPolicy", () => {
  it("ClusterFirst (the default): kube-dns, the namespace's search path, ndots:5", () => {
    const conf = podResolvConf(pod({}), host, cluster);
    expect(renderResolvConf(conf)).toBe(
      "nameserver 127.96.0.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local corp.example\noptions ndots:5\n",
    );
  });

  it("Default: the host's file", () => {
    expect(podResolvConf(pod({ dnsPolicy: "Default" }), host, cluster)).toEqual(host);
  });

  it("None: only dnsConfig", () => {
    const conf = podResolvConf(
      pod({
        dnsPolicy: "None",
        dnsConfig: {
          nameservers: ["1.2.3.4"],
          searches: ["a.example"],
          options: [{ name: "ndots", value: "2" }, { name: "edns0" }],
        },
      }),
      host,
      cluster,
    );
    expect(conf).toEqual({
      nameservers: ["1.2.3.4"],
      searches: ["a.example"],
      options: ["ndots:2", "edns0"],
    });
  });

  it("dnsConfig merges into ClusterFirst; its options override", () => {
    const conf = podResolvConf(
      pod({ dnsConfig: { options: [{ name: "ndots", value: "1" }] } }),
      host,
      cluster,
    );
    expect(conf.options).toEqual(["ndots:1"]);
    expect(conf.nameservers).toEqual(["127.96.0.10"]);
  });

  it("at most 3 nameservers and 6 search domains", () => {
    const conf = podResolvConf(
      pod({
        dnsPolicy: "None",
        dnsConfig: {
          nameservers: ["1", "2", "3", "4"],
          searches: ["a", "b", "c", "d", "e", "f", "g"],
        },
      }),
      host,
      cluster,
    );
    expect(conf.nameservers).toHaveLength(3);
    expect(conf.searches).toHaveLength(6);
  });
});

describe("glibc's res_search", () => {
  const conf = podResolvConf(pod({}), { nameservers: [], searches: [], options: [] }, cluster);

  it("a short name tries the search path first", () => {
    expect(candidateNames("web", conf)).toEqual([
      "web.shop.svc.cluster.local",
      "web.svc.cluster.local",
      "web.cluster.local",
      "web",
    ]);
  });

  it("a name with ndots dots, or a trailing dot, is tried as given first (or only)", () => {
    expect(candidateNames("a.b.c.d.e.f", conf)[0]).toBe("a.b.c.d.e.f");
    expect(candidateNames("web.shop.svc.cluster.local.", conf)).toEqual([
      "web.shop.svc.cluster.local",
    ]);
  });

  it("parses comments, the last search line, and options", () => {
    const c = parseResolvConf(
      "nameserver 1.1.1.1 # x\nsearch a\nsearch b c\noptions ndots:3 rotate\n",
    );
    expect(c).toEqual({
      nameservers: ["1.1.1.1"],
      searches: ["b", "c"],
      options: ["ndots:3", "rotate"],
    });
  });
});
