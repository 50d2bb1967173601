/**
 * The kernel modes' rules (kube-proxy's iptables and nftables modes), as text: every ready
 * endpoint of every frontend gets a DNAT target, the statistic probabilities give each endpoint
 * 1/n, affinity uses one recent list (iptables) or timed set (nftables) per endpoint, and only
 * our own chain or table is named. Where `nft` is installed, its checker (`nft -c`, which
 * changes nothing) must accept the script.
 */
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type DnatFrontend,
  endpointProbability,
  iptablesRestoreText,
  nftScript,
} from "../../../actors/proxy/dnat-rules.ts";
import { resolveProxyMode } from "../../../actors/proxy/proxy-mode.ts";

const CHAIN = "BOSUN-0123abcd-4567ef01";
const TABLE = "bosun-0123abcd-4567ef01";

const octet = fc.integer({ min: 1, max: 254 });
const ip = fc.tuple(octet, octet, octet).map(([a, b, c]) => `127.${a}.${b}.${c}`);
const port = fc.integer({ min: 1, max: 65_535 });
const frontend: fc.Arbitrary<DnatFrontend> = fc.record({
  address: ip,
  port,
  protocol: fc.constantFrom("TCP" as const, "UDP" as const),
  endpoints: fc
    .uniqueArray(
      fc.tuple(ip, port).map(([i, p]) => `${i}:${p}`),
      { minLength: 1, maxLength: 12 },
    )
    .map((e) => e.sort()),
  affinityTimeoutMs: fc.option(fc.integer({ min: 1, max: 86_400_000 }), { nil: null }),
});
// one frontend per address:port:protocol, as a node's Services give
const frontends = fc.uniqueArray(frontend, {
  maxLength: 6,
  selector: (f) => `${f.protocol} ${f.address}:${f.port}`,
});

/** The random-pick rules of a frontend, in order: their target and statistic probability. */
function picks(text: string, f: DnatFrontend): { endpoint: string; probability: number }[] {
  const head = `-A ${CHAIN} -d ${f.address}/32 -p ${f.protocol.toLowerCase()} -m ${f.protocol.toLowerCase()} --dport ${f.port} `;
  return text
    .split("\n")
    .filter((l) => l.startsWith(head) && !l.includes("--update"))
    .map((l) => ({
      endpoint: / --to-destination (\S+)$/.exec(l)?.[1] ?? "",
      probability: Number(/ --probability ([0-9.]+)/.exec(l)?.[1] ?? 1),
    }));
}

describe("iptables-restore text", () => {
  it("gives every ready endpoint one pick rule, and each endpoint 1/n of new connections", () => {
    fc.assert(
      fc.property(frontends, (fs) => {
        const text = iptablesRestoreText(CHAIN, fs);
        for (const f of fs) {
          const rules = picks(text, f);
          expect(rules.map((r) => r.endpoint)).toEqual([...f.endpoints]);
          // P(endpoint i) = p_i × Π_{j<i} (1 − p_j): 1/n each, within the printed precision
          let left = 1;
          for (const r of rules) {
            expect(r.probability * left).toBeCloseTo(1 / f.endpoints.length, 8);
            left *= 1 - r.probability;
          }
          expect(left).toBeCloseTo(0, 8);
        }
      }),
    );
  });

  it("touches only its own chain: declared (so flushed) and appended to, nothing else", () => {
    fc.assert(
      fc.property(frontends, (fs) => {
        const lines = iptablesRestoreText(CHAIN, fs).trim().split("\n");
        expect(lines[0]).toBe("*nat");
        expect(lines[1]).toBe(`:${CHAIN} - [0:0]`);
        expect(lines.at(-1)).toBe("COMMIT");
        for (const l of lines.slice(2, -1)) expect(l.startsWith(`-A ${CHAIN} `)).toBe(true);
      }),
    );
  });

  it("with ClientIP affinity, sends a known client back to its endpoint before picking", () => {
    const f: DnatFrontend = {
      address: "127.96.0.5",
      port: 80,
      protocol: "TCP",
      endpoints: ["127.1.0.1:8080", "127.1.0.2:8080"],
      affinityTimeoutMs: 10_800_000,
    };
    const lines = iptablesRestoreText(CHAIN, [f]).split("\n");
    const updates = lines.filter((l) => l.includes("--update --seconds 10800 --reap --rsource"));
    const sets = lines.filter((l) => l.includes("--set --rsource"));
    expect(updates).toHaveLength(2);
    expect(sets).toHaveLength(2);
    // the lookups come first, and each endpoint's lookup and record use one list
    expect(lines.indexOf(updates[1] as string)).toBeLessThan(lines.indexOf(sets[0] as string));
    for (let i = 0; i < 2; i++) {
      const name = (l: string) => / --name (\S+)/.exec(l)?.[1];
      expect(name(updates[i] as string)).toBe(name(sets[i] as string));
      expect(updates[i]).toContain(`--to-destination ${f.endpoints[i]}`);
    }
  });

  it("writes no rule for a frontend without endpoints", () => {
    const text = iptablesRestoreText(CHAIN, [
      { address: "127.96.0.5", port: 80, protocol: "TCP", endpoints: [], affinityTimeoutMs: null },
    ]);
    expect(text).toBe(`*nat\n:${CHAIN} - [0:0]\nCOMMIT\n`);
  });

  it("probabilities: endpoint i of n is taken with 1/(n−i) of what is left", () => {
    expect([0, 1, 2].map((i) => endpointProbability(i, 3))).toEqual([1 / 3, 1 / 2, 1]);
  });
});

const NFT = spawnSync("nft", ["--version"]).status === 0;

describe("nft script", () => {
  it("names every ready endpoint once, in a map of n entries or a rule of its own", () => {
    fc.assert(
      fc.property(frontends, (fs) => {
        const text = nftScript(TABLE, fs);
        for (const f of fs) {
          const rules = text
            .split("\n")
            .filter((l) =>
              l.includes(`ip daddr ${f.address} ${f.protocol.toLowerCase()} dport ${f.port} `),
            );
          if (f.affinityTimeoutMs === null) {
            expect(rules).toHaveLength(1);
            const targets = [...(rules[0] as string).matchAll(/(127\.[0-9.]+) \. (\d+)/g)].map(
              (m) => `${m[1]}:${m[2]}`,
            );
            if (f.endpoints.length === 1) expect(rules[0]).toContain(`dnat to ${f.endpoints[0]}`);
            else {
              expect(rules[0]).toContain(`numgen random mod ${f.endpoints.length} map`);
              expect(targets).toEqual([...f.endpoints]);
            }
          } else {
            // a lookup per endpoint, then the pick; each endpoint's chain records and DNATs
            expect(rules).toHaveLength(f.endpoints.length + 1);
            for (const e of f.endpoints) expect(text).toContain(`dnat to ${e}\n`);
          }
        }
      }),
    );
  });

  it("replaces only its own table, atomically (add, delete, define in one transaction)", () => {
    const lines = nftScript(TABLE, []).split("\n");
    expect(lines.slice(0, 3)).toEqual([
      `add table ip ${TABLE}`,
      `delete table ip ${TABLE}`,
      `table ip ${TABLE} {`,
    ]);
    expect(lines.filter((l) => l.startsWith("table ") || l.includes(" table "))).toHaveLength(3);
  });

  it.skipIf(!NFT)("is accepted by nft's checker", () => {
    fc.assert(
      fc.property(frontends, (fs) => {
        const check = spawnSync("nft", ["-c", "-f", "-"], {
          input: nftScript(TABLE, fs),
          encoding: "utf8",
        });
        expect(check.stderr).toBe("");
        expect(check.status).toBe(0);
      }),
      { numRuns: 20 },
    );
  });
});

describe("the proxy mode", () => {
  const works = (available: string[]) => (mode: string) => available.includes(mode);
  it("is a kernel mode by default where one works, iptables first", () => {
    expect(resolveProxyMode("auto", works(["iptables", "nftables"])).mode).toBe("iptables");
    expect(resolveProxyMode("auto", works(["nftables"])).mode).toBe("nftables");
  });
  it("falls back to userspace, saying why, when the kernel mode cannot run", () => {
    expect(resolveProxyMode("auto", works([]))).toEqual({
      mode: "userspace",
      fallbackReason: "neither iptables nor nft works here",
    });
    expect(resolveProxyMode("nftables", works(["iptables"])).mode).toBe("userspace");
    expect(resolveProxyMode("userspace", works(["iptables"])).mode).toBe("userspace");
  });
});
