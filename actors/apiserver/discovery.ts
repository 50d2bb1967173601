/**
 * API discovery, built from the resource table: the legacy documents (`/api` APIVersions,
 * `/apis` APIGroupList, `/api/v1` and `/apis/<g>/<v>` APIResourceList) and the aggregated
 * `apidiscovery.k8s.io/v2` APIGroupDiscoveryList that kubectl ≥ 1.30 asks for first.
 */
import { RESOURCES, type ResourceInfo } from "../api/resources.ts";

export const AGGREGATED_DISCOVERY_CONTENT_TYPE =
  "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/** Whether the Accept header asks for aggregated discovery (v2; v2beta1 gets the legacy form). */
export function wantsAggregatedDiscovery(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(",").some((part) => {
    const params = part.split(";").map((p) => p.trim());
    return (
      params.includes("g=apidiscovery.k8s.io") &&
      params.includes("v=v2") &&
      params.includes("as=APIGroupDiscoveryList")
    );
  });
}

function groupsInOrder(): { group: string; versions: string[] }[] {
  const out: { group: string; versions: string[] }[] = [];
  for (const r of RESOURCES) {
    if (r.group === "") continue;
    let g = out.find((x) => x.group === r.group);
    if (!g) {
      g = { group: r.group, versions: [] };
      out.push(g);
    }
    if (!g.versions.includes(r.version)) g.versions.push(r.version);
  }
  return out;
}

export function apiVersions(serverAddress: string): object {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

export function apiGroupList(): object {
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: groupsInOrder().map(({ group, versions }) => apiGroupBody(group, versions)),
  };
}

function apiGroupBody(group: string, versions: string[]) {
  const vs = versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
  return { name: group, versions: vs, preferredVersion: vs[0] };
}

export function apiGroup(group: string): object | null {
  const g = groupsInOrder().find((x) => x.group === group);
  return g ? { kind: "APIGroup", apiVersion: "v1", ...apiGroupBody(g.group, g.versions) } : null;
}

function resourcesOf(group: string, version: string): ResourceInfo[] {
  return RESOURCES.filter((r) => r.group === group && r.version === version);
}

export function apiResourceList(group: string, version: string): object | null {
  const resources = resourcesOf(group, version);
  if (resources.length === 0) return null;
  const list: object[] = [];
  for (const r of resources) {
    list.push({
      name: r.plural,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.verbs,
      ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
      ...(r.categories.length > 0 ? { categories: r.categories } : {}),
    });
    for (const s of r.subresources) {
      list.push({
        name: `${r.plural}/${s.name}`,
        singularName: "",
        namespaced: r.namespaced,
        ...(s.group !== undefined ? { group: s.group, version: s.version } : {}),
        kind: s.kind,
        verbs: s.verbs,
      });
    }
  }
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group === "" ? version : `${group}/${version}`,
    resources: list,
  };
}

function discoveryResource(r: ResourceInfo): object {
  return {
    resource: r.plural,
    responseKind: { group: r.group, version: r.version, kind: r.kind },
    scope: r.namespaced ? "Namespaced" : "Cluster",
    singularResource: r.singular,
    verbs: r.verbs,
    ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
    ...(r.categories.length > 0 ? { categories: r.categories } : {}),
    ...(r.subresources.length > 0
      ? {
          subresources: r.subresources.map((s) => ({
            subresource: s.name,
            responseKind: {
              group: s.group ?? r.group,
              version: s.version ?? r.version,
              kind: s.kind,
            },
            verbs: s.verbs,
          })),
        }
      : {}),
  };
}

function discoveryGroup(group: string, versions: string[]): object {
  return {
    metadata: { name: group, creationTimestamp: null },
    versions: versions.map((version) => ({
      version,
      resources: resourcesOf(group, version).map(discoveryResource),
      freshness: "Current",
    })),
  };
}

/** `/api` (core only) or `/apis` (every named group) as an APIGroupDiscoveryList. */
export function aggregatedDiscovery(which: "api" | "apis"): object {
  const items =
    which === "api"
      ? [discoveryGroup("", ["v1"])]
      : groupsInOrder().map(({ group, versions }) => discoveryGroup(group, versions));
  return {
    kind: "APIGroupDiscoveryList",
    apiVersion: "apidiscovery.k8s.io/v2",
    metadata: {},
    items,
  };
}

/** `/version`, as a Kubernetes 1.32 server answers (kubectl warns on skew beyond ±1 minor). */
export function versionInfo(): object {
  return {
    major: "1",
    minor: "32",
    gitVersion: "v1.32.0-bosun",
    gitCommit: "0000000000000000000000000000000000000000",
    gitTreeState: "clean",
    buildDate: "2025-01-01T00:00:00Z",
    goVersion: "node",
    compiler: "tsx",
    platform: `${process.platform}/${process.arch}`,
  };
}
