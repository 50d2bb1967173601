/**
 * The service proxy on a real three-server cluster (every server runs a kubelet and a proxy),
 * driven through the real kubectl, with clients in this process and in pods:
 *
 * - a TCP client to a cluster IP spreads over 3 pods; ClientIP affinity keeps it on one;
 * - garbage on the proxied port changes nothing for the next client;
 * - NodePorts answer on every node's address;
 * - a backend killed (SIGKILL) mid-traffic: once its endpoint is out, every request succeeds;
 * - scaled to 0 the cluster IP refuses at once; scaled back up it answers;
 * - UDP echo through a cluster IP;
 * - a pod reaches another Service by its env vars, and the API server through `kubernetes`;
 * - SIGKILL of the node holding the host's cluster-IP listeners: traffic resumes (a standby
 *   takes them), and the dead API server leaves the `kubernetes` endpoints.
 * The tests share one cluster and run in order, in the proxy mode its nodes pick here (a
 * kernel mode where iptables or nft works, else userspace; `BOSUN_PROXY_MODE=userspace` or
 * `=nftables` runs them in another).
 */
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { KUBERNETES_SERVICE_IP } from "../../../actors/api/well-known.ts";
import { parseProxyMode, resolveProxyMode } from "../../../actors/proxy/proxy-mode.ts";
import type { NodeStatus } from "../../../cmd/node/introspection.ts";
import { getJson } from "../../../cmd/node-client.ts";
import { LocalCluster } from "../../support/local-cluster.ts";
import { runBosun } from "../../support/processes.ts";
import { waitFor } from "../../support/wait.ts";
import { kubectl, kubectlOk } from "../apiserver/kubectl-harness.ts";
import { podsOf, runEchoDeployment, waitForReadyNodes } from "./workload-harness.ts";

let cluster: LocalCluster;
/** The nodes inherit BOSUN_PROXY_MODE from this process and resolve it the same way. */
const MODE = resolveProxyMode(parseProxyMode(process.env.BOSUN_PROXY_MODE)).mode;

beforeAll(async () => {
  cluster = await LocalCluster.start(3, [], true);
});

afterAll(async () => {
  await cluster?.stop();
});

/** One HTTP GET on a new connection (agent: false): the answer's body, or `error:CODE`. */
function get(host: string, port: number, localAddress?: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request(
      {
        host,
        port,
        path: "/",
        agent: false,
        timeout: 5_000,
        ...(localAddress ? { localAddress } : {}),
      },
      (res) => {
        let body = "";
        res.on("data", (d) => {
          body += d;
        });
        res.on("end", () => resolve(body.trim()));
        res.on("error", (e: NodeJS.ErrnoException) => resolve(`error:${e.code}`));
      },
    );
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
    req.on("error", (e: NodeJS.ErrnoException) => resolve(`error:${e.code}`));
    req.end();
  });
}

async function clusterIPOf(service: string, context?: string): Promise<string> {
  return waitFor(`a cluster IP for ${service}`, async () => {
    const ip = await kubectlOk(cluster, [
      ...(context ? ["--context", context] : []),
      "get",
      "svc",
      service,
      "-o",
      "jsonpath={.spec.clusterIP}",
    ]);
    return ip === "" ? undefined : ip;
  });
}

/** The ready endpoint IPs of a Service, from its EndpointSlices. */
async function readyEndpoints(service: string, context?: string): Promise<string[]> {
  const out = await kubectlOk(cluster, [
    ...(context ? ["--context", context] : []),
    "get",
    "endpointslices",
    "-l",
    `kubernetes.io/service-name=${service}`,
    "-o",
    "json",
  ]);
  const ips: string[] = [];
  for (const s of JSON.parse(out).items as {
    endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[];
  }[])
    for (const e of s.endpoints ?? []) if (e.conditions?.ready !== false) ips.push(...e.addresses);
  return ips.sort();
}

let webIP = "";

it("a TCP client to a cluster IP spreads over the 3 pods; ClientIP affinity sticks", async () => {
  await waitForReadyNodes(cluster, 3);
  const pods = await runEchoDeployment(cluster, "web", 3);
  await kubectlOk(cluster, [
    "expose",
    "deployment",
    "web",
    "--port",
    "80",
    "--target-port",
    "8080",
  ]);
  webIP = await clusterIPOf("web");
  await waitFor("3 ready endpoints", async () => (await readyEndpoints("web")).length === 3);
  await waitFor("the cluster IP to answer", async () => (await get(webIP, 80)).startsWith("web-"));
  const seen = await waitFor("answers from all 3 pods", async () => {
    const names = new Set<string>();
    for (let i = 0; i < 9; i++) names.add(await get(webIP, 80));
    return names.size === 3 ? names : undefined;
  });
  expect([...seen].sort()).toEqual(pods.map((p) => p.name).sort());

  await kubectlOk(cluster, [
    "patch",
    "svc",
    "web",
    "-p",
    '{"spec":{"sessionAffinity":"ClientIP"}}',
  ]);
  await waitFor("one pod per client", async () => {
    for (const client of ["127.0.0.21", "127.0.0.22"]) {
      const names = new Set<string>();
      for (let i = 0; i < 6; i++) names.add(await get(webIP, 80, client));
      if (names.size !== 1) return false;
    }
    return true;
  });
  await kubectlOk(cluster, ["patch", "svc", "web", "-p", '{"spec":{"sessionAffinity":"None"}}']);
});

it("garbage on the proxied port: the next client is answered", async () => {
  await new Promise<void>((resolve) => {
    const s = connect({ host: webIP, port: 80 });
    s.on("connect", () => s.end(randomBytes(64 * 1024)));
    s.on("error", () => resolve());
    s.on("close", () => resolve());
    s.resume();
  });
  expect(await get(webIP, 80)).toMatch(/^web-/);
});

it("NodePorts answer on every node's own address", async () => {
  await kubectlOk(cluster, ["patch", "svc", "web", "-p", '{"spec":{"type":"NodePort"}}']);
  const nodePort = await waitFor("a NodePort", async () => {
    const p = await kubectlOk(cluster, [
      "get",
      "svc",
      "web",
      "-o",
      "jsonpath={.spec.ports[0].nodePort}",
    ]);
    return p === "" ? undefined : Number(p);
  });
  for (const node of cluster.cluster.nodes)
    await waitFor(`NodePort on ${node.host}`, async () =>
      (await get(node.host, nodePort)).startsWith("web-"),
    );
});

it("a backend killed mid-traffic: once its endpoint is out, every request succeeds", async () => {
  const [victim] = await podsOf(cluster, "app=web");
  if (!victim) throw new Error("no pod");
  const pid = podProcess(victim.name);
  let stop = false;
  const during: string[] = [];
  const traffic = (async () => {
    while (!stop) during.push(await get(webIP, 80));
  })();
  process.kill(pid, "SIGKILL");
  // the container restarts; its endpoint is not ready until its readiness is seen again
  await waitFor("the victim's endpoint out or back", async () => {
    const ready = await readyEndpoints("web");
    return !ready.includes(victim.ip) || (await restarts(victim.name)) > 0;
  });
  stop = true;
  await traffic;
  const after: string[] = [];
  for (let i = 0; i < 20; i++) after.push(await get(webIP, 80));
  expect(after.filter((a) => !a.startsWith("web-"))).toEqual([]);
  expect(during.length).toBeGreaterThan(0);
});

it("scaled to 0 the cluster IP refuses at once; scaled back up it answers", async () => {
  await kubectlOk(cluster, ["scale", "deployment", "web", "--replicas=0"]);
  await waitFor(
    "no ready endpoints",
    async () => (await readyEndpoints("web")).length === 0,
    60_000,
  );
  await waitFor("refused", async () => (await get(webIP, 80)) === "error:ECONNREFUSED");
  await kubectlOk(cluster, ["scale", "deployment", "web", "--replicas=3"]);
  await waitFor("answers again", async () => (await get(webIP, 80)).startsWith("web-"), 60_000);
});

it("UDP echo through a cluster IP", async () => {
  await kubectlOk(
    cluster,
    ["apply", "-f", "-"],
    `
apiVersion: apps/v1
kind: Deployment
metadata: { name: udp }
spec:
  replicas: 2
  selector: { matchLabels: { app: udp } }
  template:
    metadata: { labels: { app: udp } }
    spec:
      containers:
        - name: echo
          image: bosun/udp-echo
          env: [{ name: ECHO_PREFIX, value: pod }]
          ports: [{ containerPort: 5353, protocol: UDP }]
---
apiVersion: v1
kind: Service
metadata: { name: udp }
spec:
  selector: { app: udp }
  ports: [{ port: 53, targetPort: 5353, protocol: UDP }]
`,
  );
  const ip = await clusterIPOf("udp");
  const client = createSocket("udp4");
  try {
    await new Promise<void>((r) => client.bind(0, "127.0.0.1", () => r()));
    const reply = await waitFor(
      "an echo",
      () =>
        new Promise<string | undefined>((resolve) => {
          const timer = cluster.clock.setTimeout(() => resolve(undefined), 500);
          client.once("message", (m) => {
            cluster.clock.clearTimeout(timer);
            resolve(m.toString());
          });
          client.send("ping", 53, ip);
        }),
      60_000,
    );
    expect(reply).toMatch(/^udp-\S+ ping$/);
  } finally {
    client.close();
  }
});

it("a pod reaches another Service by its env vars, and the API server through the kubernetes Service", async () => {
  const endpoints = await waitFor("the kubernetes endpoints list the 3 API servers", async () => {
    const out = await kubectlOk(cluster, [
      "get",
      "endpoints",
      "kubernetes",
      "-o",
      "jsonpath={.subsets[*].addresses[*].ip}",
    ]);
    const ips = out.split(" ").filter((s) => s !== "");
    return ips.length === 3 ? ips.sort() : undefined;
  });
  expect(endpoints).toEqual(cluster.cluster.nodes.map((n) => n.host).sort());
  expect(await clusterIPOf("kubernetes")).toBe(KUBERNETES_SERVICE_IP);
  await kubectlOk(cluster, [
    "create",
    "configmap",
    "cluster-ca",
    `--from-file=ca.crt=${join(cluster.runDir, "pki", "ca.crt")}`,
  ]);

  await kubectlOk(
    cluster,
    ["apply", "-f", "-"],
    `
apiVersion: v1
kind: Pod
metadata: { name: fetch-web }
spec:
  restartPolicy: Never
  containers:
    - name: fetch
      image: bosun/fetch
      args: ["--retry", "50", "http://$(WEB_SERVICE_HOST):$(WEB_SERVICE_PORT)/"]
---
apiVersion: v1
kind: Pod
metadata: { name: fetch-api }
spec:
  restartPolicy: Never
  enableServiceLinks: false
  volumes: [{ name: ca, configMap: { name: cluster-ca } }]
  containers:
    - name: fetch
      image: bosun/fetch
      volumeMounts: [{ name: ca, mountPath: /ca }]
      # the certificate names the kubernetes Service's IP: verified against the cluster CA
      args: ["--cacert", "ca/ca.crt", "--retry", "50", "https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)/version"]
`,
  );
  for (const pod of ["fetch-web", "fetch-api"])
    await waitFor(
      `${pod} to finish`,
      async () => {
        const phase = await kubectlOk(cluster, [
          "get",
          "pod",
          pod,
          "-o",
          "jsonpath={.status.phase}",
        ]);
        if (phase === "Failed")
          throw new Error(`${pod} failed: ${(await kubectl(cluster, ["logs", pod])).stdout}`);
        return phase === "Succeeded";
      },
      60_000,
    );
  expect(await kubectlOk(cluster, ["logs", "fetch-web"])).toMatch(/^web-/);
  expect(await kubectlOk(cluster, ["logs", "fetch-api"])).toContain("gitVersion");
});

it("SIGKILL of the node holding the cluster-IP listeners: traffic resumes, and its API server leaves the kubernetes endpoints", async () => {
  const holder = await waitFor("the holder", async () => {
    for (const node of cluster.cluster.nodes) {
      const status = await getJson<NodeStatus>(node, "/status");
      const proxy = status.actors.find((a) => a.address === `${node.id}/proxy`);
      if (JSON.stringify(proxy?.state ?? "").includes("holding")) return node;
    }
    return undefined;
  });
  // bosun status names the holder; its /metrics count the proxied connections (userspace:
  // the kernel modes see no connection, their metrics are the endpoints they program)
  const status = await runBosun(["status"], { BOSUN_RUN_DIR: cluster.runDir });
  expect(status.stdout).toContain(`cluster-IP listeners: held by ${holder.id}`);
  const metrics = await (await fetch(`http://${holder.host}:${holder.port}/metrics`)).text();
  if (MODE === "userspace") {
    expect(metrics).toMatch(
      /bosun_proxy_connections_total\{service="default\/web",port="80",protocol="TCP"\} [1-9]/,
    );
    expect(metrics).toMatch(/bosun_proxy_udp_flows_total\{service="default\/udp"/);
  } else
    expect(metrics).toMatch(
      /bosun_proxy_ready_endpoints\{service="default\/web",port="80",protocol="TCP"\} [1-9]/,
    );
  const survivor = cluster.cluster.nodes.find((n) => n.id !== holder.id);
  const context = survivor?.id === "n1" ? "bosun" : `bosun-${survivor?.id}`;
  cluster.kill(holder.id);
  await cluster.waitDead(holder.id);
  await waitFor("the cluster IP to answer again", async () =>
    (await get(webIP, 80)).startsWith("web-"),
  );
  await waitFor("the kubernetes endpoints without the dead server", async () => {
    const out = await kubectlOk(cluster, [
      "--context",
      context,
      "get",
      "endpoints",
      "kubernetes",
      "-o",
      "jsonpath={.subsets[*].addresses[*].ip}",
    ]);
    return out.split(" ").filter((s) => s !== "").length === 2 && !out.includes(`${holder.host} `);
  });
});

/** The pid of a pod's container process (its environment names the pod; it runs in the run dir). */
function podProcess(podName: string): number {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readlinkSync(`/proc/${entry}/cwd`).startsWith(cluster.runDir)) continue;
      const env = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (env.includes(`POD_NAME=${podName}`)) return Number(entry);
    } catch {
      // gone meanwhile, or not ours
    }
  }
  throw new Error(`no process for pod ${podName}`);
}

async function restarts(pod: string): Promise<number> {
  const out = await kubectlOk(cluster, [
    "get",
    "pod",
    pod,
    "-o",
    "jsonpath={.status.containerStatuses[0].restartCount}",
  ]);
  return Number(out || 0);
}
