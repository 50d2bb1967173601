/**
 * The proxier on real sockets in this process: Services and EndpointSlices fed by hand, small
 * TCP and UDP backends on loopback addresses. Checks the data plane's promises: round robin,
 * ClientIP affinity, a dead endpoint costing a retry not a request, refusal at once without
 * endpoints, half-close, UDP flows, NodePorts with externalTrafficPolicy Local and their health
 * check port, garbage and a client that never reads (bounded memory).
 *
 * Every test runs in each proxy mode that works here (userspace always; iptables and nftables
 * where the tool is installed and we may write rules, as root in CI). Where the kernel modes
 * differ from userspace the test says so: their rules are written a sync after a change (a
 * few ms, so the result is awaited rather than read at once), they spread at random rather
 * than in turn, and they cannot retry a dead endpoint (kube-proxy's iptables mode cannot
 * either: a readiness probe takes it out).
 */

import { spawnSync } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { createSocket } from "node:dgram";
import { connect, createServer, type Server, type Socket } from "node:net";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { DEFAULT_PROXY_LIMITS } from "../../../actors/proxy/limits.ts";
import { Proxier } from "../../../actors/proxy/proxier.ts";
import { kernelModeWorks, type ProxyMode } from "../../../actors/proxy/proxy-mode.ts";
import { SystemClock, sleep } from "../../../actors/system/clock.ts";
import { waitFor } from "../../support/wait.ts";

const clock = new SystemClock();
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/** A fresh random loopback /24 for this test's addresses. */
function addresses() {
  const base = `127.${randomInt(96, 111)}.${randomInt(1, 250)}`;
  return {
    clusterIP: `${base}.1`,
    node: `${base}.2`,
    pod: (i: number) => `${base}.${10 + i}`,
    port: randomInt(20_000, 29_000),
  };
}

const MODES: ProxyMode[] = [
  "userspace",
  ...(["iptables", "nftables"] as const).filter((m) => kernelModeWorks(m)),
];
const CONNTRACK = spawnSync("conntrack", ["--version"]).status === 0;

/** Each test's proxier gets its own cluster, so its rules are its own. */
function proxier(mode: ProxyMode, node: string, nodeName = "n1"): Proxier {
  const p = new Proxier({
    nodeName,
    nodeAddress: node,
    clock,
    logger: pino({ level: "silent" }),
    limits: DEFAULT_PROXY_LIMITS,
    mode,
    clusterIdentity: `proxier-test-${node}`,
  });
  cleanups.push(() => p.stop());
  return p;
}

/** UDP conntrack entries to `address` (kernel modes). */
function conntrackEntries(address: string): number {
  const out = spawnSync("conntrack", ["-L", "-p", "udp", "--orig-dst", address], {
    encoding: "utf8",
  });
  return out.stdout.split("\n").filter((l) => l.startsWith("udp")).length;
}

/** A TCP backend answering `name` to each connection's first chunk, then closing. */
async function tcpBackend(host: string, port: number, name: string): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.on("error", () => undefined);
    s.once("data", () => s.end(`${name}\n`));
  });
  await new Promise<void>((r) => server.listen(port, host, () => r()));
  cleanups.push(() => server.close());
  return server;
}

function svc(name: string, spec: JsonObject): JsonObject {
  return { metadata: { namespace: "t", name }, spec };
}

function slice(
  service: string,
  port: number,
  endpoints: [string, string, boolean?][],
  proto = "TCP",
) {
  return {
    metadata: {
      namespace: "t",
      name: `${service}-abc`,
      labels: { "kubernetes.io/service-name": service },
    },
    addressType: "IPv4",
    ports: [{ name: "", port, protocol: proto }],
    endpoints: endpoints.map(([ip, nodeName, ready]) => ({
      addresses: [ip],
      nodeName,
      conditions: { ready: ready ?? true },
    })),
  };
}

/** Connects, sends a line, resolves with the answer (or the error code). */
function ask(host: string, port: number, localAddress?: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host, port, ...(localAddress ? { localAddress } : {}) });
    let out = "";
    s.on("connect", () => s.write("hi\n"));
    s.on("data", (d) => {
      out += d;
    });
    s.on("end", () => resolve(out.trim()));
    s.on("error", (e: NodeJS.ErrnoException) => resolve(`error:${e.code}`));
  });
}

function apply(p: Proxier, service: JsonObject, slices: JsonObject[]): void {
  const key = p.recordService(service);
  for (const s of slices) p.recordSlice(s);
  p.syncService(key);
}

describe.each(MODES)("%s mode", (mode) => {
  const kernel = mode !== "userspace";

  describe("TCP through a cluster IP", () => {
    it("spreads connections over the ready endpoints (userspace: in turn; kernel: at random)", async () => {
      const a = addresses();
      for (let i = 0; i < 3; i++) await tcpBackend(a.pod(i), 8080, `pod-${i}`);
      const p = proxier(mode, a.node);
      p.setHolding(true);
      apply(p, svc("web", { clusterIP: a.clusterIP, ports: [{ port: a.port }] }), [
        slice(
          "web",
          8080,
          [0, 1, 2].map((i) => [a.pod(i), "n1"]),
        ),
      ]);
      await waitFor("the listener", async () =>
        (await ask(a.clusterIP, a.port)).startsWith("pod-"),
      );
      // the listener answers before its rule is in: count only what the kernel spreads
      if (kernel) await waitFor("the rules", () => p.kernelRules?.settled());
      const answers: string[] = [];
      if (!kernel) {
        for (let i = 0; i < 9; i++) answers.push(await ask(a.clusterIP, a.port));
        for (let i = 0; i < 3; i++) expect(answers.filter((x) => x === `pod-${i}`)).toHaveLength(3);
      } else {
        // each endpoint has 1/3: all three answer within 60 connections but with p ≈ 1e-10
        for (let i = 0; i < 60; i++) answers.push(await ask(a.clusterIP, a.port));
        expect(new Set(answers)).toEqual(new Set(["pod-0", "pod-1", "pod-2"]));
      }
    });

    it("keeps a client on one endpoint with ClientIP affinity", async () => {
      const a = addresses();
      for (let i = 0; i < 3; i++) await tcpBackend(a.pod(i), 8080, `pod-${i}`);
      const p = proxier(mode, a.node);
      p.setHolding(true);
      apply(
        p,
        svc("web", {
          clusterIP: a.clusterIP,
          sessionAffinity: "ClientIP",
          ports: [{ port: a.port }],
        }),
        [
          slice(
            "web",
            8080,
            [0, 1, 2].map((i) => [a.pod(i), "n1"]),
          ),
        ],
      );
      await waitFor("the listener", async () =>
        (await ask(a.clusterIP, a.port)).startsWith("pod-"),
      );
      // the listener's affinity and the kernel's are two: ask once the rule has taken over
      if (kernel) await waitFor("the rules", () => p.kernelRules?.settled());
      for (const client of ["127.0.0.7", "127.0.0.8"]) {
        const answers = new Set<string>();
        for (let i = 0; i < 6; i++) answers.add(await ask(a.clusterIP, a.port, client));
        expect(answers.size).toBe(1);
      }
    });

    it.skipIf(kernel)(
      "moves on past an endpoint that refuses: every request succeeds",
      async () => {
        const a = addresses();
        await tcpBackend(a.pod(0), 8080, "pod-0");
        const p = proxier(mode, a.node);
        p.setHolding(true);
        // pod-1 is listed ready but nothing listens there (killed, its endpoint not yet removed)
        apply(p, svc("web", { clusterIP: a.clusterIP, ports: [{ port: a.port }] }), [
          slice("web", 8080, [
            [a.pod(0), "n1"],
            [a.pod(1), "n1"],
          ]),
        ]);
        await waitFor("the listener", async () => (await ask(a.clusterIP, a.port)) === "pod-0");
        for (let i = 0; i < 6; i++) expect(await ask(a.clusterIP, a.port)).toBe("pod-0");
        const [report] = p.report();
        expect(report?.dialFailures).toBeGreaterThan(0);
      },
    );

    it("refuses at once without a ready endpoint, and answers again when one is back", async () => {
      const a = addresses();
      await tcpBackend(a.pod(0), 8080, "pod-0");
      const p = proxier(mode, a.node);
      p.setHolding(true);
      const service = svc("web", { clusterIP: a.clusterIP, ports: [{ port: a.port }] });
      apply(p, service, [slice("web", 8080, [[a.pod(0), "n1"]])]);
      await waitFor("the listener", async () => (await ask(a.clusterIP, a.port)) === "pod-0");
      apply(p, service, [slice("web", 8080, [[a.pod(0), "n1", false]])]);
      if (kernel)
        await waitFor("the rule gone", async () => (await ask(a.clusterIP, a.port)) !== "pod-0");
      expect(await ask(a.clusterIP, a.port)).toBe("error:ECONNREFUSED");
      apply(p, service, [slice("web", 8080, [[a.pod(0), "n1", true]])]);
      await waitFor("answers again", async () => (await ask(a.clusterIP, a.port)) === "pod-0");
    });

    it("keeps a half-closed connection: the client's FIN reaches the endpoint, its answer comes back", async () => {
      const a = addresses();
      const server = createServer({ allowHalfOpen: true }, (s) => {
        let got = "";
        s.on("data", (d) => {
          got += d;
        });
        s.on("end", () => s.end(`got ${got.length} bytes`));
      });
      await new Promise<void>((r) => server.listen(8080, a.pod(0), () => r()));
      cleanups.push(() => server.close());
      const p = proxier(mode, a.node);
      p.setHolding(true);
      apply(p, svc("web", { clusterIP: a.clusterIP, ports: [{ port: a.port }] }), [
        slice("web", 8080, [[a.pod(0), "n1"]]),
      ]);
      const answer = await waitFor(
        "an answer after half-close",
        () =>
          new Promise<string | undefined>((resolve) => {
            const s = connect({ host: a.clusterIP, port: a.port, allowHalfOpen: true });
            let out = "";
            s.on("connect", () => s.end("x".repeat(100_000)));
            s.on("data", (d) => {
              out += d;
            });
            s.on("end", () => resolve(out || undefined));
            s.on("error", () => resolve(undefined));
          }),
      );
      expect(answer).toBe("got 100000 bytes");
    });

    it("passes garbage through and keeps serving; a client that never reads pins bounded memory", async () => {
      const a = addresses();
      // a backend that writes as long as it may: 64 MiB unless backpressure stops it
      let written = 0;
      const server = createServer((s) => {
        s.on("error", () => undefined);
        const chunk = Buffer.alloc(64 * 1024);
        const pump = () => {
          while (written < 64 * 1024 * 1024) {
            written += chunk.length;
            if (!s.write(chunk)) return void s.once("drain", pump);
          }
        };
        s.once("data", pump);
      });
      await new Promise<void>((r) => server.listen(8080, a.pod(0), () => r()));
      cleanups.push(() => server.close());
      const p = proxier(mode, a.node);
      p.setHolding(true);
      apply(p, svc("web", { clusterIP: a.clusterIP, ports: [{ port: a.port }] }), [
        slice("web", 8080, [[a.pod(0), "n1"]]),
      ]);
      const client: Socket = await waitFor(
        "connected",
        () =>
          new Promise<Socket | undefined>((resolve) => {
            const s = connect({ host: a.clusterIP, port: a.port });
            s.on("connect", () => resolve(s));
            s.on("error", () => resolve(undefined));
          }),
      );
      cleanups.push(() => client.destroy());
      client.pause(); // never reads
      client.write(randomBytes(4096)); // garbage starts the pump
      // the backend stops once the kernel buffers and the proxy's high-water marks are full
      let last = -1;
      await waitFor("the backend to be held back", async () => {
        const now = written;
        const still = now === last && now > 0;
        last = now;
        await sleep(clock, 200);
        return still;
      });
      expect(written).toBeLessThan(32 * 1024 * 1024);
      // the kernel modes hold no connection of their own: the kernel's buffers are the bound
      if (!kernel) expect(p.report()[0]?.activeConnections).toBe(1);
    });
  });

  describe("UDP through a cluster IP", () => {
    it("echoes through a flow, and drops the flow when its endpoint goes", async () => {
      const a = addresses();
      const echo = createSocket("udp4");
      echo.on("message", (m, from) =>
        echo.send(Buffer.concat([Buffer.from("echo:"), m]), from.port, from.address),
      );
      await new Promise<void>((r) => echo.bind(5353, a.pod(0), () => r()));
      cleanups.push(() => echo.close());
      const p = proxier(mode, a.node);
      p.setHolding(true);
      const service = svc("dns", {
        clusterIP: a.clusterIP,
        ports: [{ port: a.port, protocol: "UDP" }],
      });
      apply(p, service, [slice("dns", 5353, [[a.pod(0), "n1"]], "UDP")]);
      // kernel: the flow goes through the rule (its listener serves only until the rule is in)
      if (kernel) await waitFor("the rules", () => p.kernelRules?.settled());
      const client = createSocket("udp4");
      cleanups.push(() => client.close());
      await new Promise<void>((r) => client.bind(0, "127.0.0.9", () => r()));
      const reply = await waitFor(
        "an echo",
        () =>
          new Promise<string | undefined>((resolve) => {
            const timer = clock.setTimeout(() => resolve(undefined), 300);
            client.once("message", (m) => {
              clock.clearTimeout(timer);
              resolve(m.toString());
            });
            client.send("ping", a.port, a.clusterIP);
          }),
      );
      expect(reply).toBe("echo:ping");
      if (!kernel) {
        expect(p.report()[0]?.udpFlows).toBe(1);
        apply(p, service, [slice("dns", 5353, [], "UDP")]);
        expect(p.report()[0]?.udpFlows).toBe(0);
      } else if (CONNTRACK) {
        // the kernel's flow is a conntrack entry: deleted once the endpoint's rule is gone
        expect(conntrackEntries(a.clusterIP)).toBeGreaterThan(0);
        apply(p, service, [slice("dns", 5353, [], "UDP")]);
        await waitFor("the flow deleted", () => conntrackEntries(a.clusterIP) === 0);
      }
    });
  });

  describe("NodePorts", () => {
    it("answer on the node's address; Local sends only to this node's endpoints and has a health check", async () => {
      const a = addresses();
      await tcpBackend(a.pod(0), 8080, "local-pod");
      await tcpBackend(a.pod(1), 8080, "remote-pod");
      const nodePort = randomInt(30_000, 32_767);
      const hcPort = randomInt(20_000, 29_000);
      const p = proxier(mode, a.node, "n1");
      const service = svc("web", {
        clusterIP: a.clusterIP,
        type: "LoadBalancer",
        externalTrafficPolicy: "Local",
        healthCheckNodePort: hcPort,
        ports: [{ port: a.port, nodePort }],
      });
      apply(p, service, [
        slice("web", 8080, [
          [a.pod(0), "n1"],
          [a.pod(1), "n2"],
        ]),
      ]);
      await waitFor("the NodePort", async () => (await ask(a.node, nodePort)) === "local-pod");
      for (let i = 0; i < 4; i++) expect(await ask(a.node, nodePort)).toBe("local-pod");
      const health = async () => {
        const res = await fetch(`http://${a.node}:${hcPort}/healthz`);
        return { status: res.status, body: (await res.json()) as { localEndpoints: number } };
      };
      expect(await waitFor("health 200", () => health().catch(() => undefined))).toEqual({
        status: 200,
        body: {
          service: { namespace: "t", name: "web" },
          localEndpoints: 1,
          serviceProxyHealthy: true,
        },
      });
      apply(p, service, [slice("web", 8080, [[a.pod(1), "n2"]])]);
      expect((await health()).status).toBe(503);
      if (kernel)
        await waitFor("the rule gone", async () => (await ask(a.node, nodePort)) !== "local-pod");
      expect(await ask(a.node, nodePort)).toBe("error:ECONNREFUSED");
      // the cluster IP is not served: this proxier does not hold the host's listeners
      expect(await ask(a.clusterIP, a.port)).toBe("error:ECONNREFUSED");
    });
  });
});
