/**
 * Cluster DNS on a real three-server cluster (every server runs a DNS server, a kubelet and a
 * proxy), asked with the real `dig` and driven through the real kubectl:
 *
 * - A for a Service, SRV for a named port, PTR for its cluster IP, ExternalName as a CNAME,
 *   NXDOMAIN for a missing name, a pod's `a-b-c-d.ns.pod` record, dns-version TXT;
 * - a headless Service's A records follow its pods' readiness;
 * - the `kube-dns` Service at the range's .10 lists the servers and answers through the proxy;
 * - a new Service resolves at once, a deleted one stops;
 * - malformed packets get no answer and crash nothing;
 * - kill -9 of a server: the kube-dns cluster IP keeps answering.
 * The tests share one cluster and run in order.
 */
import { execFile } from "node:child_process";
import { createSocket } from "node:dgram";
import { afterAll, beforeAll, expect, it } from "vitest";
import { KUBE_DNS_SERVICE_IP } from "../../../actors/api/well-known.ts";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";
import { kubectl, kubectlOk } from "../apiserver/kubectl-harness.ts";
import { podsOf, runEchoDeployment, waitForReadyNodes } from "../workloads/workload-harness.ts";

let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await LocalCluster.start(3, [], true);
});

afterAll(async () => {
  await cluster?.stop();
});

interface DigResult {
  status: string;
  answers: string[];
  flags: string;
}

/** One `dig` query (one try, 2 s): its status, flags and answer records' data. */
function dig(
  server: string,
  port: number,
  name: string,
  type = "A",
  tcp = false,
): Promise<DigResult> {
  const args = [`@${server}`, "-p", String(port), name, type, "+tries=1", "+time=2"];
  if (tcp) args.push("+tcp");
  return new Promise((resolve, reject) => {
    execFile("dig", args, (error, stdout) => {
      const status = /status: (\w+)/.exec(stdout)?.[1];
      if (status === undefined) return reject(error ?? new Error(stdout));
      const flags = /flags: ([^;]*);/.exec(stdout)?.[1] ?? "";
      const section = stdout.split(";; ANSWER SECTION:\n")[1]?.split("\n\n")[0] ?? "";
      const answers = section
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => l.split(/\s+/).slice(4).join(" "));
      resolve({ status, answers: answers.sort(), flags });
    });
  });
}

let dnsHost = "";
let dnsPort = 0;

const ask = (name: string, type = "A") => dig(dnsHost, dnsPort, name, type);

async function clusterIPOf(service: string): Promise<string> {
  return waitFor(`a cluster IP for ${service}`, async () => {
    const ip = await kubectlOk(cluster, [
      "get",
      "svc",
      service,
      "-o",
      "jsonpath={.spec.clusterIP}",
    ]);
    return ip === "" ? undefined : ip;
  });
}

let webIP = "";

it("kube-dns: the range's .10, its endpoints the servers' DNS servers", async () => {
  await waitForReadyNodes(cluster, 3);
  const ip = await kubectlOk(cluster, [
    "get",
    "svc",
    "kube-dns",
    "-n",
    "kube-system",
    "-o",
    "jsonpath={.spec.clusterIP}",
  ]);
  expect(ip).toBe(KUBE_DNS_SERVICE_IP);
  const slice = await waitFor("kube-dns to list 3 servers", async () => {
    const out = await kubectlOk(cluster, [
      "get",
      "endpointslice",
      "kube-dns",
      "-n",
      "kube-system",
      "-o",
      "json",
    ]);
    const s = JSON.parse(out) as {
      endpoints?: { addresses: string[] }[];
      ports?: { port: number }[];
    };
    return (s.endpoints ?? []).length === 3 ? s : undefined;
  });
  const hosts = cluster.cluster.nodes.map((n) => n.host).sort();
  expect((slice.endpoints ?? []).map((e) => e.addresses[0]).sort()).toEqual(hosts);
  dnsPort = slice.ports?.[0]?.port ?? 0;
  dnsHost = hosts[0] ?? "";
  expect([53, 10053]).toContain(dnsPort);
});

it("A for a Service, SRV for its named port, PTR for its cluster IP", async () => {
  await runEchoDeployment(cluster, "web", 2);
  await kubectlOk(cluster, ["create", "service", "clusterip", "web", "--tcp=80:8080"]);
  webIP = await clusterIPOf("web");
  const a = await ask("web.default.svc.cluster.local");
  expect(a.status).toBe("NOERROR");
  expect(a.answers).toEqual([webIP]);
  expect(a.flags).toContain("aa");
  const srv = await ask("_80-8080._tcp.web.default.svc.cluster.local", "SRV");
  expect(srv.answers).toEqual(["0 100 80 web.default.svc.cluster.local."]);
  const reverse = webIP.split(".").reverse().join(".");
  const ptr = await ask(`${reverse}.in-addr.arpa`, "PTR");
  expect(ptr.answers).toEqual(["web.default.svc.cluster.local."]);
  const aaaa = await ask("web.default.svc.cluster.local", "AAAA");
  expect(aaaa.status).toBe("NOERROR"); // NODATA
  expect(aaaa.answers).toEqual([]);
  expect((await ask("nope.default.svc.cluster.local")).status).toBe("NXDOMAIN");
  expect((await ask("dns-version.cluster.local", "TXT")).answers).toEqual(['"1.1.0"']);
  // the same over TCP
  expect((await dig(dnsHost, dnsPort, "web.default.svc.cluster.local", "A", true)).answers).toEqual(
    [webIP],
  );
});

it("every server answers, and so does the kube-dns cluster IP through the proxy", async () => {
  for (const n of cluster.cluster.nodes)
    expect((await dig(n.host, dnsPort, "web.default.svc.cluster.local")).answers).toEqual([webIP]);
  await waitFor("the kube-dns cluster IP to answer", async () => {
    const r = await dig(KUBE_DNS_SERVICE_IP, 53, "web.default.svc.cluster.local").catch(() => null);
    return r?.answers[0] === webIP;
  });
  const tcp = await dig(KUBE_DNS_SERVICE_IP, 53, "web.default.svc.cluster.local", "A", true);
  expect(tcp.answers).toEqual([webIP]);
});

it("a pod record, and a headless Service's A records follow readiness", async () => {
  const [pod] = await podsOf(cluster, "app=web");
  const podIP = pod?.ip ?? "";
  const label = podIP.replaceAll(".", "-");
  expect((await ask(`${label}.default.pod.cluster.local`)).answers).toEqual([podIP]);
  expect((await ask(`${label}.other.pod.cluster.local`)).status).toBe("NXDOMAIN");
  await kubectlOk(cluster, [
    "create",
    "service",
    "clusterip",
    "db",
    "--clusterip=None",
    "--tcp=80:8080",
  ]);
  await kubectlOk(cluster, ["set", "selector", "service", "db", "app=web"]);
  const ips = (await podsOf(cluster, "app=web")).map((p) => p.ip).sort();
  await waitFor("the headless Service's A records", async () => {
    const r = await ask("db.default.svc.cluster.local");
    return r.answers.join() === ips.join();
  });
  await kubectlOk(cluster, ["scale", "deployment", "web", "--replicas=0"]);
  await waitFor("NXDOMAIN once no endpoint is ready", async () => {
    return (await ask("db.default.svc.cluster.local")).status === "NXDOMAIN";
  });
  await kubectlOk(cluster, ["scale", "deployment", "web", "--replicas=1"]);
  await waitFor("an A record again", async () => {
    return (await ask("db.default.svc.cluster.local")).answers.length === 1;
  });
});

it("ExternalName is a CNAME; a new Service resolves at once, a deleted one stops", async () => {
  await kubectlOk(cluster, [
    "create",
    "service",
    "externalname",
    "ext",
    "--external-name=example.com",
  ]);
  await waitFor("the CNAME", async () => {
    const r = await ask("ext.default.svc.cluster.local", "CNAME");
    return r.answers[0] === "example.com.";
  });
  await kubectlOk(cluster, ["create", "service", "clusterip", "fresh", "--tcp=81:8080"]);
  const ip = await clusterIPOf("fresh");
  // create has returned: the watch event is at most a moment behind
  await waitFor(
    "fresh to resolve",
    async () => (await ask("fresh.default.svc.cluster.local")).answers[0] === ip,
    5_000,
    5,
  );
  await kubectlOk(cluster, ["delete", "service", "fresh"]);
  await waitFor(
    "fresh to stop resolving",
    async () => (await ask("fresh.default.svc.cluster.local")).status === "NXDOMAIN",
    5_000,
    5,
  );
});

it("a pod's program fetches http://web.default.svc.cluster.local/ and the short name web", async () => {
  const pod = (name: string, url: string) => `
apiVersion: v1
kind: Pod
metadata: { name: ${name} }
spec:
  restartPolicy: Never
  enableServiceLinks: false
  containers:
    - name: fetch
      image: bosun/fetch
      args: ["--retry", "50", "${url}"]
`;
  await kubectlOk(
    cluster,
    ["apply", "-f", "-"],
    `${pod("fetch-fqdn", "http://web.default.svc.cluster.local/")}---${pod("fetch-short", "http://web/")}`,
  );
  for (const name of ["fetch-fqdn", "fetch-short"]) {
    await waitFor(
      `${name} to finish`,
      async () => {
        const phase = await kubectlOk(cluster, [
          "get",
          "pod",
          name,
          "-o",
          "jsonpath={.status.phase}",
        ]);
        if (phase === "Failed")
          throw new Error(`${name} failed: ${(await kubectl(cluster, ["logs", name])).stdout}`);
        return phase === "Succeeded";
      },
      60_000,
    );
    expect(await kubectlOk(cluster, ["logs", name])).toMatch(/^web-/);
  }
});

it("malformed packets get no answer and crash nothing", async () => {
  const socket = createSocket("udp4");
  const replies: Buffer[] = [];
  socket.on("message", (m) => replies.push(m));
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", r));
  const junk = [
    Buffer.alloc(0),
    Buffer.from([1]),
    Buffer.from("not a dns packet at all"),
    Buffer.alloc(70_00, 0xff),
  ];
  for (const bytes of junk) socket.send(bytes, dnsPort, dnsHost);
  // a good query after the junk is answered: the server is alive and reads on
  const good = await ask("web.default.svc.cluster.local");
  expect(good.answers).toEqual([webIP]);
  socket.close();
  expect(replies.filter((r) => r.length > 0 && r.length < 12)).toEqual([]);
});

it("kill -9 of a server: the kube-dns cluster IP keeps answering", async () => {
  // not the first node: kubectl's kubeconfig names its API server
  const victim = cluster.cluster.nodes[2]?.id ?? "";
  cluster.kill(victim);
  await cluster.waitDead(victim);
  await waitFor(
    "answers through the kube-dns cluster IP",
    async () => {
      const r = await dig(KUBE_DNS_SERVICE_IP, 53, "web.default.svc.cluster.local").catch(
        () => null,
      );
      return r?.answers[0] === webIP;
    },
    30_000,
  );
  await waitFor(
    "kube-dns to drop the dead server",
    async () => {
      const out = await kubectlOk(cluster, [
        "get",
        "endpointslice",
        "kube-dns",
        "-n",
        "kube-system",
        "-o",
        "json",
      ]);
      return (JSON.parse(out) as { endpoints?: unknown[] }).endpoints?.length === 2;
    },
    30_000,
  );
  // every answer after the dead server left the endpoints comes through
  for (let i = 0; i < 10; i++) {
    const r = await dig(KUBE_DNS_SERVICE_IP, 53, "web.default.svc.cluster.local");
    expect(r.answers).toEqual([webIP]);
  }
});
