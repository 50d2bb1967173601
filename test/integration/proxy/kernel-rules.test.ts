/**
 * The kernel modes' rules on this host's real nat table (skipped where iptables / nft cannot
 * run): a SIGKILLed holder's rules outlive it and keep forwarding until the next proxy of its
 * cluster deletes them; a clean stop deletes its own and nothing of another cluster's; an
 * address:port another program holds is not taken over.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomInt, randomUUID } from "node:crypto";
import { connect, createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { kernelRulesNames } from "../../../actors/proxy/kernel-rules.ts";
import { DEFAULT_PROXY_LIMITS } from "../../../actors/proxy/limits.ts";
import { Proxier } from "../../../actors/proxy/proxier.ts";
import { type KernelProxyMode, kernelModeWorks } from "../../../actors/proxy/proxy-mode.ts";
import { SystemClock, sleep } from "../../../actors/system/clock.ts";
import { waitFor } from "../../support/wait.ts";

const CHILD = fileURLToPath(new URL("./kernel-proxier-child.ts", import.meta.url));
const clock = new SystemClock();
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

const MODES = (["iptables", "nftables"] as const).filter((m) => kernelModeWorks(m));

function addresses() {
  const base = `127.${randomInt(96, 111)}.${randomInt(1, 250)}`;
  return {
    clusterIP: `${base}.1`,
    pod: (i: number) => `${base}.${10 + i}`,
    port: randomInt(20_000, 29_000),
  };
}

/** The names of the nat chains (iptables) or tables (nftables) on this host. */
function ruleNames(mode: KernelProxyMode): string {
  return mode === "iptables"
    ? spawnSync("iptables-save", ["-t", "nat"], { encoding: "utf8" }).stdout
    : spawnSync("nft", ["list", "tables"], { encoding: "utf8" }).stdout;
}

function ownName(mode: KernelProxyMode, cluster: string, node: string): string {
  const names = kernelRulesNames(cluster, node);
  return mode === "iptables" ? names.chain : names.table;
}

async function backend(host: string, answer: string): Promise<void> {
  const server = createServer((s) => {
    s.on("error", () => undefined);
    s.end(`${answer}\n`);
  });
  await new Promise<void>((r) => server.listen(8080, host, () => r()));
  cleanups.push(() => server.close());
}

function ask(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    let out = "";
    s.on("data", (d) => {
      out += d;
    });
    s.on("end", () => resolve(out.trim()));
    s.on("error", (e: NodeJS.ErrnoException) => resolve(`error:${e.code}`));
  });
}

function proxier(mode: KernelProxyMode, cluster: string, node: string): Proxier {
  const p = new Proxier({
    nodeName: node,
    nodeAddress: "127.0.0.1",
    clock,
    logger: pino({ level: "silent" }),
    limits: DEFAULT_PROXY_LIMITS,
    mode,
    clusterIdentity: cluster,
  });
  cleanups.push(() => p.stop());
  return p;
}

function serve(p: Proxier, clusterIP: string, port: number, endpoint: string): void {
  const service: JsonObject = {
    metadata: { namespace: "t", name: "web" },
    spec: { clusterIP, ports: [{ port }] },
  };
  p.recordService(service);
  p.recordSlice({
    metadata: { namespace: "t", name: "web-a", labels: { "kubernetes.io/service-name": "web" } },
    addressType: "IPv4",
    ports: [{ name: "", port: 8080, protocol: "TCP" }],
    endpoints: [{ addresses: [endpoint], conditions: { ready: true } }],
  });
  p.setHolding(true);
  p.syncService("t/web");
}

function startChild(args: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    cleanups.push(() => child.kill("SIGKILL"));
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d;
      if (out.includes("ready")) resolve(child);
    });
    child.stderr?.on("data", (d: Buffer) => {
      out += d;
    });
    child.on("exit", (code) => reject(new Error(`child exited ${code}: ${out}`)));
  });
}

describe.skipIf(MODES.length === 0).each(MODES)("%s mode", (mode) => {
  it("a SIGKILLed holder's rules keep forwarding until the next proxy of its cluster deletes them", async () => {
    const a = addresses();
    const cluster = randomUUID();
    await backend(a.pod(0), "old");
    await backend(a.pod(1), "new");
    const child = await startChild([
      mode,
      cluster,
      "n1",
      a.clusterIP,
      String(a.port),
      `${a.pod(0)}:8080`,
    ]);
    expect(await ask(a.clusterIP, a.port)).toBe("old");
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
    // no process, yet the kernel forwards: the rules outlive their writer
    expect(ruleNames(mode)).toContain(ownName(mode, cluster, "n1"));
    expect(await ask(a.clusterIP, a.port)).toBe("old");

    const next = proxier(mode, cluster, "n2");
    serve(next, a.clusterIP, a.port, a.pod(1));
    await waitFor(
      "the dead holder's rules deleted",
      () => !ruleNames(mode).includes(ownName(mode, cluster, "n1")),
    );
    await waitFor("the new holder's rules", async () => (await ask(a.clusterIP, a.port)) === "new");
  });

  it("a clean stop deletes its own rules and leaves another cluster's", async () => {
    const a = addresses();
    const b = addresses();
    const [mine, theirs] = [randomUUID(), randomUUID()];
    await backend(a.pod(0), "mine");
    await backend(b.pod(0), "theirs");
    const p = proxier(mode, mine, "n1");
    const q = proxier(mode, theirs, "n1");
    serve(p, a.clusterIP, a.port, a.pod(0));
    serve(q, b.clusterIP, b.port, b.pod(0));
    await waitFor("both answer", async () => {
      const [x, y] = await Promise.all([ask(a.clusterIP, a.port), ask(b.clusterIP, b.port)]);
      return x === "mine" && y === "theirs";
    });
    // a listener answers until the rules are written: wait for both proxies' rules
    await waitFor("both rules written", () =>
      [p, q].every((r) => (r.kernelRules?.syncs ?? 0) > 0 && r.kernelRules?.settled()),
    );
    p.stop(); // synchronous: the rules are gone when it returns
    expect(ruleNames(mode)).not.toContain(ownName(mode, mine, "n1"));
    expect(await ask(a.clusterIP, a.port)).toBe("error:ECONNREFUSED");
    expect(ruleNames(mode)).toContain(ownName(mode, theirs, "n1"));
    expect(await ask(b.clusterIP, b.port)).toBe("theirs");
  });

  it("a stop while its rules are being written leaves none behind", async () => {
    const a = addresses();
    await backend(a.pod(0), "pod");
    // stops at several points of the first sync: before, during and after the exec
    for (const delayMs of [0, 2, 5, 10, 20, 40, 80]) {
      const p = proxier(mode, randomUUID(), "n1");
      serve(p, a.clusterIP, a.port, a.pod(0));
      await sleep(clock, delayMs);
      p.stop();
      const names = p.kernelRules?.names;
      expect(names).toBeDefined();
      expect(ruleNames(mode)).not.toContain(mode === "iptables" ? names?.chain : names?.table);
    }
  });

  it("does not take over an address:port another program holds", async () => {
    const a = addresses();
    const owner = createServer((s) => s.end("owner\n"));
    await new Promise<void>((r) => owner.listen(a.port, a.clusterIP, () => r()));
    cleanups.push(() => owner.close());
    await backend(a.pod(0), "pod");
    const p = proxier(mode, randomUUID(), "n1");
    serve(p, a.clusterIP, a.port, a.pod(0));
    // the rules are written (the claim failed, so without this address) and a bind retry later
    await waitFor("a sync", () => (p.kernelRules?.syncs ?? 0) > 0 && p.kernelRules?.settled());
    await sleep(clock, DEFAULT_PROXY_LIMITS.listenRetryMs);
    expect(p.report()[0]?.clusterIPListening).toBe(false);
    expect(await ask(a.clusterIP, a.port)).toBe("owner");
  });
});
