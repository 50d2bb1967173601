/**
 * The kernel data path's rules, as text for `iptables-restore` and `nft -f` (kube-proxy's
 * iptables and nftables modes). Pure: a list of frontends in, one batch of rules out, so a sync
 * is one exec whatever the number of Services.
 *
 * - A frontend is an address:port a client dials (a cluster IP, or this node's address for a
 *   NodePort) and its ready endpoints. DNAT in the nat OUTPUT hook rewrites locally generated
 *   connections to it: pods and nodes are loopback addresses of this host, so every client is
 *   local. 127.x → 127.x DNAT on OUTPUT needs no `route_localnet` (that is for packets arriving
 *   on PREROUTING), and the source address is kept: the endpoint sees the real client.
 * - iptables: endpoint i of n is picked with probability 1/(n−i) among those left (the
 *   statistic module), the last one unconditionally, so each gets 1/n (kube-proxy's scheme).
 *   ClientIP affinity is the recent module: a client seen on an endpoint within the timeout
 *   goes there again (`--update` refreshes the time), a new one is recorded by `--set`.
 * - nftables: one `numgen random mod n` map per frontend; with affinity, a timed set per
 *   endpoint and a chain per endpoint that records the client (kube-proxy's nftables mode).
 * - Everything lives in one chain (iptables) or one table (nftables) per node and cluster, so
 *   two clusters on one host never touch each other's rules, and no global table is flushed.
 */
import type { ProxyProtocol } from "./service-ports.ts";

export interface DnatFrontend {
  address: string;
  port: number;
  protocol: ProxyProtocol;
  /** Ready endpoints as `ip:port`, in a stable order. */
  endpoints: readonly string[];
  /** ClientIP affinity timeout, or null for none. */
  affinityTimeoutMs: number | null;
}

/** The probability the statistic module gives endpoint `index` of `count` (1/(count−index)). */
export function endpointProbability(index: number, count: number): number {
  return 1 / (count - index);
}

/** kube-proxy prints 10 decimals: enough that the product of the rounded terms stays ≈ 1/n. */
function probabilityText(p: number): string {
  return p.toFixed(10);
}

function affinitySeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** A short stable tag for an endpoint of a frontend (names of recent lists and nft sets). */
function endpointTag(frontend: DnatFrontend, endpoint: string): string {
  // FNV-1a: names must be short (nft set names, recent list names) and stable across syncs
  let h = 0x811c9dc5;
  const text = `${frontend.address}:${frontend.port}/${frontend.protocol}>${endpoint}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

// ---- iptables -----------------------------------------------------------------------------------

/**
 * An `iptables-restore --noflush` batch that replaces `chain` (declaring it flushes it) in the
 * nat table with the rules of `frontends`. Other chains are not touched.
 */
export function iptablesRestoreText(chain: string, frontends: readonly DnatFrontend[]): string {
  const lines = ["*nat", `:${chain} - [0:0]`];
  for (const f of frontends) {
    if (f.endpoints.length === 0) continue;
    const proto = f.protocol.toLowerCase();
    const match = `-A ${chain} -d ${f.address}/32 -p ${proto} -m ${proto} --dport ${f.port}`;
    const dnat = (endpoint: string) => `-j DNAT --to-destination ${endpoint}`;
    const recent = (endpoint: string) => `${chain}-${endpointTag(f, endpoint)}`;
    if (f.affinityTimeoutMs !== null) {
      const seconds = affinitySeconds(f.affinityTimeoutMs);
      for (const e of f.endpoints)
        lines.push(
          `${match} -m recent --name ${recent(e)} --update --seconds ${seconds} --reap --rsource ${dnat(e)}`,
        );
    }
    f.endpoints.forEach((e, i) => {
      const last = i === f.endpoints.length - 1;
      const statistic = last
        ? ""
        : ` -m statistic --mode random --probability ${probabilityText(endpointProbability(i, f.endpoints.length))}`;
      const remember =
        f.affinityTimeoutMs !== null ? ` -m recent --name ${recent(e)} --set --rsource` : "";
      lines.push(`${match}${statistic}${remember} ${dnat(e)}`);
    });
  }
  lines.push("COMMIT", "");
  return lines.join("\n");
}

// ---- nftables -----------------------------------------------------------------------------------

function nftEndpoint(endpoint: string): { ip: string; port: string } {
  const colon = endpoint.lastIndexOf(":");
  return { ip: endpoint.slice(0, colon), port: endpoint.slice(colon + 1) };
}

/**
 * An `nft -f` script that replaces table `ip <table>` atomically (one transaction: add, delete,
 * define): the rules of `frontends` in a nat chain on the output hook. ClientIP affinity
 * memory lives in the table's sets, so it restarts with each sync of this node's rules.
 */
export function nftScript(table: string, frontends: readonly DnatFrontend[]): string {
  const sets: string[] = [];
  const chains: string[] = [];
  const rules: string[] = [];
  for (const f of frontends) {
    if (f.endpoints.length === 0) continue;
    const proto = f.protocol.toLowerCase();
    const match = `ip daddr ${f.address} ${proto} dport ${f.port}`;
    const n = f.endpoints.length;
    if (f.affinityTimeoutMs === null) {
      if (n === 1) {
        const e = nftEndpoint(f.endpoints[0] as string);
        rules.push(`${match} dnat to ${e.ip}:${e.port}`);
      } else {
        const map = f.endpoints.map((ep, i) => {
          const e = nftEndpoint(ep);
          return `${i} : ${e.ip} . ${e.port}`;
        });
        rules.push(`${match} dnat ip to numgen random mod ${n} map { ${map.join(", ")} }`);
      }
      continue;
    }
    const seconds = affinitySeconds(f.affinityTimeoutMs);
    const targets: string[] = [];
    f.endpoints.forEach((ep, i) => {
      const tag = endpointTag(f, ep);
      const e = nftEndpoint(ep);
      sets.push(
        `  set a-${tag} { type ipv4_addr; flags dynamic,timeout; timeout ${seconds}s; size 65535; }`,
      );
      chains.push(
        // a port mapping needs the protocol matched in its own rule
        `  chain e-${tag} {\n    update @a-${tag} { ip saddr }\n    meta l4proto ${proto} dnat to ${e.ip}:${e.port}\n  }`,
      );
      rules.push(`${match} ip saddr @a-${tag} goto e-${tag}`);
      targets.push(`${i} : goto e-${tag}`);
    });
    rules.push(`${match} numgen random mod ${n} vmap { ${targets.join(", ")} }`);
  }
  return [
    `add table ip ${table}`,
    `delete table ip ${table}`,
    `table ip ${table} {`,
    ...sets,
    ...chains,
    "  chain output {",
    "    type nat hook output priority -100; policy accept;",
    ...rules.map((r) => `    ${r}`),
    "  }",
    "}",
    "",
  ].join("\n");
}
