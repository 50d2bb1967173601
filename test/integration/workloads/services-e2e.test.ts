import { afterAll, beforeAll, expect, it } from "vitest";
import { cidrRange, inRange, ipv4ToNumber } from "../../../actors/api/allocation-range.ts";
import { SERVICE_NAME_LABEL } from "../../../actors/api/well-known.ts";
import { DEFAULT_SERVICE_CLUSTER_IP_CIDR } from "../../../actors/controllers/service-ip-allocation.ts";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";
import { kubectl, kubectlOk, spawnKubectl } from "../apiserver/kubectl-harness.ts";
import { podsOf, runEchoDeployment, waitForReadyNodes } from "./workload-harness.ts";

/**
 * Services on a real three-server cluster with the built-in workloads, through the real kubectl:
 * `kubectl expose` and `kubectl create service` answer with a ClusterIP from the Service CIDR
 * (allocated inside the create; a taken one is 422), Endpoints and
 * EndpointSlices list the pods' IPs on the target port and follow a scale-down, without a write
 * that changes nothing (watched through `kubectl get -w`), and deleting the Service removes both.
 */
let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await LocalCluster.start(3, [], true);
});

afterAll(async () => {
  await cluster?.stop();
});

interface Json {
  [key: string]: unknown;
}

async function getJson(args: string[]): Promise<Json> {
  return JSON.parse(await kubectlOk(cluster, [...args, "-o", "json"])) as Json;
}

/** `ip:port` of every ready address in an Endpoints object, sorted. */
function endpointsAddresses(ep: Json): string[] {
  const out: string[] = [];
  for (const subset of (ep.subsets ?? []) as Json[])
    for (const a of (subset.addresses ?? []) as Json[])
      for (const p of (subset.ports ?? []) as Json[]) out.push(`${a.ip}:${p.port}`);
  return out.sort();
}

/** `ip:port` of every ready endpoint over the slices, sorted. */
function sliceAddresses(slices: Json[]): string[] {
  const out: string[] = [];
  for (const s of slices)
    for (const e of (s.endpoints ?? []) as Json[]) {
      if ((e.conditions as Json | undefined)?.ready !== true) continue;
      for (const p of (s.ports ?? []) as Json[])
        out.push(`${(e.addresses as string[])[0]}:${p.port}`);
    }
  return out.sort();
}

/** What the `kubectl get -w` below print per event: name, resourceVersion, the content compared. */
const VERSION_AND_CONTENT = (content: string) =>
  `jsonpath={.metadata.name} {.metadata.resourceVersion} {${content}}{"\\n"}`;

/** `name resourceVersion` of each listed object, a line each. */
const CURRENT_VERSIONS = `jsonpath={range .items[*]}{.metadata.name} {.metadata.resourceVersion}{"\\n"}{end}`;

/**
 * The versions a `kubectl get -w` saw, per object: [resourceVersion, content] in order, each
 * version once (a re-listing watch prints a version again).
 */
function versionsSeen(output: string): Map<string, [string, string][]> {
  const byName = new Map<string, [string, string][]>();
  for (const line of output.split("\n")) {
    const [name, version, ...content] = line.split(" ");
    if (!name || !version) continue;
    const seen = byName.get(name) ?? [];
    if (!seen.some(([v]) => v === version)) seen.push([version, content.join(" ")]);
    byName.set(name, seen);
  }
  return byName;
}

/** Writes that changed nothing of `content`: consecutive versions of an object that look alike. */
function idleWrites(output: string): string[] {
  const idle: string[] = [];
  for (const [name, versions] of versionsSeen(output))
    for (let i = 1; i < versions.length; i++)
      if (versions[i]?.[1] === versions[i - 1]?.[1]) idle.push(`${name}@${versions[i]?.[0]}`);
  return idle;
}

async function isGone(args: string[]): Promise<boolean> {
  const r = await kubectl(cluster, ["get", ...args]);
  return r.code !== 0 && r.stderr.includes("NotFound");
}

it("kubectl create service answers with its cluster IP and NodePort; a taken one is 422", async () => {
  const created = JSON.parse(
    await kubectlOk(cluster, [
      "create",
      "service",
      "nodeport",
      "np",
      "--tcp=80:8080",
      "-o",
      "json",
    ]),
  ) as Json;
  const spec = created.spec as Json;
  expect(
    inRange(cidrRange(DEFAULT_SERVICE_CLUSTER_IP_CIDR), ipv4ToNumber(String(spec.clusterIP)) ?? -1),
  ).toBe(true);
  const nodePort = Number(((spec.ports as Json[])[0] as Json).nodePort);
  expect(nodePort >= 30000 && nodePort <= 32767).toBe(true);
  const taken = await kubectl(cluster, [
    "create",
    "service",
    "clusterip",
    "twin",
    "--tcp=80:8080",
    `--clusterip=${String(spec.clusterIP)}`,
  ]);
  expect(taken.code).not.toBe(0);
  expect(taken.stderr).toContain(
    `spec.clusterIPs: Invalid value: ["${String(spec.clusterIP)}"]: failed to allocate IP ${String(spec.clusterIP)}: provided IP is already allocated`,
  );
  await kubectlOk(cluster, ["delete", "service", "np"]);
});

it("kubectl expose: a ClusterIP from the Service CIDR, Endpoints and EndpointSlices that follow the pods, gone with the Service", async () => {
  await waitForReadyNodes(cluster, 3);
  const pods = await runEchoDeployment(cluster, "web", 3);
  const podAddresses = (list: { ip: string }[]) => list.map((p) => `${p.ip}:8080`).sort();

  // the API server allocates inside the create: its answer already carries the address
  const clusterIP = await kubectlOk(cluster, [
    "expose",
    "deployment",
    "web",
    "--port",
    "80",
    "--target-port",
    "8080",
    "-o",
    "jsonpath={.spec.clusterIP}",
  ]);
  expect(inRange(cidrRange(DEFAULT_SERVICE_CLUSTER_IP_CIDR), ipv4ToNumber(clusterIP) ?? -1)).toBe(
    true,
  );
  // kubectl's table shows the same address
  expect(await kubectlOk(cluster, ["get", "svc", "web", "--no-headers"])).toContain(clusterIP);

  const selector = `${SERVICE_NAME_LABEL}=web`;
  await waitFor(
    "Endpoints listing the 3 pods on 8080",
    async () =>
      JSON.stringify(endpointsAddresses(await getJson(["get", "endpoints", "web"]))) ===
      JSON.stringify(podAddresses(pods)),
  );
  await waitFor("EndpointSlices with the 3 pods ready", async () => {
    const list = await getJson(["get", "endpointslices", "-l", selector]);
    return (
      JSON.stringify(sliceAddresses(list.items as Json[])) === JSON.stringify(podAddresses(pods))
    );
  });

  // from here on every write to the Endpoints and the slices is seen: none may change nothing
  const endpointsWatch = spawnKubectl(cluster, [
    "get",
    "endpoints",
    "web",
    "-w",
    "-o",
    VERSION_AND_CONTENT(".subsets"),
  ]);
  const slicesWatch = spawnKubectl(cluster, [
    "get",
    "endpointslices",
    "-l",
    selector,
    "-w",
    "-o",
    VERSION_AND_CONTENT(".endpoints"),
  ]);
  try {
    // changes to the Service that its endpoints do not show
    for (const note of ["a", "b", "c"])
      await kubectlOk(cluster, ["annotate", "service", "web", `note=${note}`, "--overwrite"]);

    await kubectlOk(cluster, ["scale", "deployment", "web", "--replicas=1"]);
    const survivor = await waitFor(
      "one pod left",
      async () => {
        const left = await podsOf(cluster, "app=web");
        return left.length === 1 && left[0]?.ip ? left : undefined;
      },
      60_000,
    );
    await waitFor(
      "Endpoints down to the one pod",
      async () =>
        JSON.stringify(endpointsAddresses(await getJson(["get", "endpoints", "web"]))) ===
        JSON.stringify(podAddresses(survivor)),
    );
    await waitFor("EndpointSlices down to the one pod", async () => {
      const list = await getJson(["get", "endpointslices", "-l", selector]);
      const slices = list.items as Json[];
      const all = slices.flatMap((s) => (s.endpoints ?? []) as Json[]);
      return (
        all.length === 1 &&
        JSON.stringify(sliceAddresses(slices)) === JSON.stringify(podAddresses(survivor))
      );
    });

    // once both watches have printed the current versions, they have seen every write
    const current = async (args: string[]) =>
      (await kubectlOk(cluster, ["get", ...args, "-o", CURRENT_VERSIONS]))
        .split("\n")
        .filter((l) => l !== "");
    const endpointsNow = await current(["endpoints", "--field-selector", "metadata.name=web"]);
    const slicesNow = await current(["endpointslices", "-l", selector]);
    await waitFor(
      "the watches to catch up",
      () =>
        endpointsNow.every((v) => endpointsWatch.output().includes(`${v} `)) &&
        slicesNow.every((v) => slicesWatch.output().includes(`${v} `)),
    );
    expect(idleWrites(endpointsWatch.output())).toEqual([]);
    expect(idleWrites(slicesWatch.output())).toEqual([]);
  } finally {
    endpointsWatch.child.kill();
    slicesWatch.child.kill();
  }

  await kubectlOk(cluster, ["delete", "service", "web"]);
  await waitFor("the Endpoints to be gone", () => isGone(["endpoints", "web"]));
  await waitFor(
    "the EndpointSlices to be gone",
    async () =>
      (await kubectlOk(cluster, ["get", "endpointslices", "-l", selector, "-o", "name"])) === "",
  );
  await kubectlOk(cluster, ["delete", "deployment", "web"]);
});
