/**
 * resolv.conf(5), read and written: the host's resolvers (the DNS server forwards names outside
 * the cluster zone to them) and each pod's file, per its `dnsPolicy` (the kubelet's
 * pkg/kubelet/network/dns). Pure: the file's text in, the file's text out.
 */
import { asArray, asObject, asString, type JsonObject } from "./json.ts";

export interface ResolvConf {
  nameservers: string[];
  searches: string[];
  /** `ndots:5`, `timeout:2`, … as written. */
  options: string[];
}

export const EMPTY_RESOLV_CONF: ResolvConf = { nameservers: [], searches: [], options: [] };

export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], searches: [], options: [] };
  for (const raw of text.split("\n")) {
    const line = raw.replace(/[#;].*$/, "").trim();
    const [keyword, ...rest] = line.split(/\s+/);
    if (keyword === "nameserver" && rest[0]) conf.nameservers.push(rest[0]);
    // the last `search` (or `domain`) line wins, as glibc reads it
    else if (keyword === "search" || keyword === "domain") conf.searches = rest;
    else if (keyword === "options") conf.options.push(...rest);
  }
  return conf;
}

export function renderResolvConf(conf: ResolvConf): string {
  const lines = conf.nameservers.map((n) => `nameserver ${n}`);
  if (conf.searches.length > 0) lines.push(`search ${conf.searches.join(" ")}`);
  if (conf.options.length > 0) lines.push(`options ${conf.options.join(" ")}`);
  return `${lines.join("\n")}\n`;
}

/** The `ndots` option (glibc's default: 1). */
export function ndotsOf(conf: ResolvConf): number {
  for (const o of conf.options) {
    const m = /^ndots:(\d+)$/.exec(o);
    if (m) return Math.min(Number(m[1]), 15); // glibc caps it at 15
  }
  return 1;
}

/** The names a resolver tries for `name`, in order (glibc's res_search with `ndots`). */
export function candidateNames(name: string, conf: ResolvConf): string[] {
  if (name.endsWith(".")) return [name.slice(0, -1)];
  const dots = name.split(".").length - 1;
  const searched = conf.searches.map((s) => `${name}.${s}`);
  return dots >= ndotsOf(conf) ? [name, ...searched] : [...searched, name];
}

/** Kubernetes' `ndots:5` for ClusterFirst: `svc.ns.svc.cluster.local` has four dots. */
export const CLUSTER_FIRST_NDOTS = 5;

/**
 * A pod's resolv.conf (pkg/kubelet/network/dns's GetPodDNS): ClusterFirst (the default) points
 * at the cluster DNS with the namespace's search path; Default is the host's; None is only the
 * pod's `dnsConfig`, which is merged into the others too. ClusterFirst without a cluster DNS
 * falls back to Default, as the kubelet does when it has no `--cluster-dns`.
 */
export function podResolvConf(
  pod: JsonObject,
  host: ResolvConf,
  cluster: { nameserver: string | null; domain: string },
): ResolvConf {
  const spec = asObject(pod.spec);
  const namespace = asString(asObject(pod.metadata).namespace) || "default";
  const policy = asString(spec.dnsPolicy) || "ClusterFirst";
  let conf: ResolvConf;
  if (policy === "None") conf = { ...EMPTY_RESOLV_CONF };
  else if (
    (policy === "ClusterFirst" || policy === "ClusterFirstWithHostNet") &&
    cluster.nameserver !== null
  ) {
    const d = cluster.domain;
    conf = {
      nameservers: [cluster.nameserver],
      searches: [`${namespace}.svc.${d}`, `svc.${d}`, d, ...host.searches],
      options: [`ndots:${CLUSTER_FIRST_NDOTS}`],
    };
  } else conf = { ...host };
  const extra = asObject(spec.dnsConfig);
  const options = asArray(extra.options)
    .map(asObject)
    .map((o) =>
      o.value === undefined ? asString(o.name) : `${asString(o.name)}:${asString(o.value)}`,
    );
  const merged: ResolvConf = {
    nameservers: [...conf.nameservers, ...asArray(extra.nameservers).map(asString)],
    searches: [...new Set([...conf.searches, ...asArray(extra.searches).map(asString)])],
    options: mergeOptions(conf.options, options),
  };
  // resolv.conf(5): at most 3 nameservers and 6 search domains (Kubernetes' limits too)
  return {
    ...merged,
    nameservers: merged.nameservers.slice(0, 3),
    searches: merged.searches.slice(0, 6),
  };
}

/** dnsConfig options override same-named ones (`ndots:2` replaces `ndots:5`). */
function mergeOptions(base: string[], extra: string[]): string[] {
  const byName = new Map<string, string>();
  for (const o of [...base, ...extra]) byName.set(o.split(":")[0] ?? o, o);
  return [...byName.values()];
}
