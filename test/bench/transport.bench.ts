/**
 * `npm run bench:transport [-- --json FILE] [--runs N] [--no-tls]`: one-way tell throughput and
 * ask round trips between two bosun node processes (this one and a child), for 100 B and 4 KB
 * bodies, beside a raw `ws` + `msgpackr` baseline between the same two kinds of process, and the
 * same two bosun nodes' twins with the mesh over mutual TLS 1.3 (issue 18), in one run.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { pack, unpack } from "msgpackr";
import { pino } from "pino";
import { WebSocket, WebSocketServer } from "ws";
import { createCertificateAuthority } from "../../actors/apiserver/pki.ts";
import { SystemClock, sleep } from "../../actors/system/clock.ts";
import { BOSUN_TS } from "../../cmd/launcher.ts";
import { NodeProcess } from "../../cmd/node/process.ts";
import { issueNodeCertificate } from "../../transport/node-certificate.ts";
import { nthAddress, randomLoopbackBase } from "../support/loopback.ts";
import { waitFor } from "../support/wait.ts";
import { median, summarize } from "./stats.ts";

const SIZES = [100, 4096];
const TELLS: Record<number, number> = { 100: 200_000, 4096: 50_000 };
/** `--tells N`: fewer tells per run, for a loaded machine (the default ones fill the queue). */
let tellsOverride: number | undefined;
const ASKS = 3_000;
const HIGH_WATER_BYTES = 8 * 1024 * 1024;
const clock = new SystemClock();
const now = () => performance.now();

interface Figures {
  tellMsgsPerSec: number;
  askP50Ms: number;
  askP99Ms: number;
}

// ---- the raw baseline: a ws server that decodes, counts and echoes -------------------------------

function runRawServer(host: string, port: number): void {
  const wss = new WebSocketServer({ host, port, perMessageDeflate: false });
  let told = 0;
  wss.on("connection", (ws) => {
    ws.on("message", (data) => {
      const m = unpack(data as Buffer) as { kind: string; id?: string; body: unknown };
      if (m.kind === "tell") told++;
      else if (m.kind === "count") ws.send(pack({ kind: "reply", replyTo: m.id, body: told }));
      else if (m.kind === "reset") {
        told = 0;
        ws.send(pack({ kind: "reply", replyTo: m.id, body: 0 }));
      } else ws.send(pack({ kind: "reply", replyTo: m.id, body: m.body }));
    });
  });
  wss.on("listening", () => console.log("raw-ready"));
}

class RawClient {
  private nextId = 1;
  private readonly waiting = new Map<string, (body: unknown) => void>();
  constructor(private readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const m = unpack(data as Buffer) as { replyTo: string; body: unknown };
      this.waiting.get(m.replyTo)?.(m.body);
      this.waiting.delete(m.replyTo);
    });
  }
  static connect(url: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.once("open", () => resolve(new RawClient(ws)));
      ws.once("error", reject);
    });
  }
  async tell(body: unknown): Promise<void> {
    while (this.ws.bufferedAmount > HIGH_WATER_BYTES) await new Promise((r) => setImmediate(r));
    this.ws.send(pack({ to: "r2/echo", from: "r1/bench", kind: "tell", body }));
  }
  ask(kind: string, body: unknown): Promise<unknown> {
    const id = `r1:${this.nextId++}`;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.ws.send(pack({ to: "r2/echo", from: "r1/bench", kind, id, body }));
    });
  }
  close(): void {
    this.ws.close();
  }
}

async function measureRaw(client: RawClient, size: number): Promise<Figures> {
  const body = { pad: "x".repeat(size) };
  const n = tellsOverride ?? (TELLS[size] as number);
  await client.ask("reset", null);
  const start = now();
  for (let i = 0; i < n; i++) await client.tell(body);
  while ((await client.ask("count", null)) !== n) await sleep(clock, 1);
  const tellMsgsPerSec = n / ((now() - start) / 1000);
  const rtts: number[] = [];
  for (let i = 0; i < ASKS; i++) {
    const t = now();
    await client.ask("echo", body);
    rtts.push(now() - t);
  }
  const s = summarize(rtts);
  return { tellMsgsPerSec, askP50Ms: s.p50, askP99Ms: s.p99 };
}

// ---- bosun: this process is node b1, the child is node b2 ---------------------------------------

async function measureBosun(node: NodeProcess, size: number, peer: string): Promise<Figures> {
  const body = { pad: "x".repeat(size) };
  const n = tellsOverride ?? (TELLS[size] as number);
  const self = `${node.config.id}/bench`;
  const echo = `${peer}/echo`;
  const ask = <T>(kind: string, b: unknown) => node.system.ask<T>(self, echo, kind, b);
  await ask("echo.reset", null);
  const start = now();
  for (let i = 0; i < n; i++) {
    // past the per-peer queue limit the mesh refuses: wait for the socket to drain and retry
    while (!node.system.tell(self, echo, "echo.tell", body).ok) {
      await new Promise((r) => setImmediate(r));
    }
    if (i % 256 === 0) await new Promise((r) => setImmediate(r));
  }
  while ((await ask<{ told: number }>("echo.count", null)).told !== n) await sleep(clock, 1);
  const tellMsgsPerSec = n / ((now() - start) / 1000);
  const rtts: number[] = [];
  for (let i = 0; i < ASKS; i++) {
    const t = now();
    await ask("echo.ask", body);
    rtts.push(now() - t);
  }
  const s = summarize(rtts);
  return { tellMsgsPerSec, askP50Ms: s.p50, askP99Ms: s.p99 };
}

function startChild(args: string[], readyLine?: string): Promise<ChildProcess> {
  // BOSUN_BENCH_PROFILE_DIR=DIR writes a CPU profile of each child there, to see where time goes
  const profileDir = process.env.BOSUN_BENCH_PROFILE_DIR;
  const profile = profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [];
  const child = spawn(process.execPath, [...profile, "--import", "tsx", ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (readyLine === undefined) return Promise.resolve(child);
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      if (d.toString().includes(readyLine)) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`child exited early (${code})`)));
  });
}

function medianFigures(runs: Figures[]): Figures {
  return {
    tellMsgsPerSec: median(runs.map((r) => r.tellMsgsPerSec)),
    askP50Ms: median(runs.map((r) => r.askP50Ms)),
    askP99Ms: median(runs.map((r) => r.askP99Ms)),
  };
}

/** `bosun node` as the child of a pair: `self` = [id, host], its one peer likewise. */
function childNodeArgs(
  dir: string,
  [id, host]: [string, string],
  [peerId, peerHost]: [string, string],
  port: number,
  extra: string[],
): string[] {
  const args = [BOSUN_TS, "node", "--role", "agent", "--id", id, "--listen", `${host}:${port}`];
  args.push("--peers", `${peerId}=${peerHost}:${port}`, "--token-file", join(dir, "token"));
  args.push("--data-dir", join(dir, id), ...extra);
  // the transport alone: a kubelet would ask the other node (no API server) all along
  return [...args, "--no-workloads", "--log-level", "warn"];
}

/** The TLS twins: t1 in this process, t2 a child signing its own certificate with the CA. */
async function startTlsPair(
  dir: string,
  hosts: [string, string],
  port: number,
  token: string,
  children: ChildProcess[],
): Promise<NodeProcess> {
  const ca = createCertificateAuthority("bosun-bench-ca", clock.wallMs());
  writeFileSync(join(dir, "ca.crt"), ca.certPem);
  writeFileSync(join(dir, "ca.key"), ca.keyPem, { mode: 0o600 });
  const [t1Host, t2Host] = hosts;
  const node = new NodeProcess(
    {
      id: "t1",
      role: "agent",
      servers: [],
      host: t1Host,
      port,
      peers: { t2: `${t2Host}:${port}` },
      dataDir: join(dir, "t1"),
      token,
      faults: false,
      meshTls: { material: issueNodeCertificate(ca, "t1", "server", clock.wallMs()) },
    },
    clock,
    pino({ level: "warn" }),
  );
  const tls = ["--mesh-tls", "--mesh-ca-cert", join(dir, "ca.crt")];
  tls.push("--mesh-ca-key", join(dir, "ca.key"));
  children.push(await startChild(childNodeArgs(dir, ["t2", t2Host], ["t1", t1Host], port, tls)));
  await node.start();
  await waitFor("t1 and t2 to mesh over TLS", () => node.readiness().ready, 60_000).catch(
    (error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify(node.mesh.linkStates())}`);
    },
  );
  return node;
}

async function main(options: { json?: string; runs: string; tls: boolean }): Promise<void> {
  const runs = Number(options.runs);
  const base = randomLoopbackBase(6);
  const [b1Host, b2Host, rawHost, t1Host, t2Host] = [0, 1, 2, 3, 4].map((i) =>
    nthAddress(base, i),
  ) as [string, string, string, string, string];
  const port = 7100;
  const dir = mkdtempSync(join(tmpdir(), "bosun-bench-"));
  const token = "bench-token-0123456789abcdef";
  writeFileSync(join(dir, "token"), token);
  const children: ChildProcess[] = [];
  const node = new NodeProcess(
    {
      id: "b1",
      role: "agent",
      servers: [],
      host: b1Host,
      port,
      peers: { b2: `${b2Host}:${port}` },
      dataDir: join(dir, "b1"),
      token,
      faults: false,
    },
    clock,
    pino({ level: "warn" }),
  );
  let tlsNode: NodeProcess | undefined;
  try {
    children.push(
      await startChild(
        [fileURLToPath(import.meta.url), "--raw-server", `${rawHost}:${port}`],
        "raw-ready",
      ),
    );
    children.push(await startChild(childNodeArgs(dir, ["b2", b2Host], ["b1", b1Host], port, [])));
    await node.start();
    await waitFor("b1 and b2 to mesh", () => node.readiness().ready, 30_000);
    if (options.tls) tlsNode = await startTlsPair(dir, [t1Host, t2Host], port, token, children);
    const raw = await RawClient.connect(`ws://${rawHost}:${port}`);
    const results: Record<string, Result> = {};
    for (const size of SIZES) {
      const bosunRuns: Figures[] = [];
      const rawRuns: Figures[] = [];
      const tlsRuns: Figures[] = [];
      // interleaved, so that a busy machine's swings hit all three alike
      for (let r = 0; r < runs; r++) {
        rawRuns.push(await measureRaw(raw, size));
        bosunRuns.push(await measureBosun(node, size, "b2"));
        if (tlsNode) tlsRuns.push(await measureBosun(tlsNode, size, "t2"));
      }
      const bosun = medianFigures(bosunRuns);
      const rawFig = medianFigures(rawRuns);
      results[`${size}B`] = {
        bosun,
        raw: rawFig,
        ratio: bosun.tellMsgsPerSec / rawFig.tellMsgsPerSec,
        ...(tlsNode ? { tls: medianFigures(tlsRuns) } : {}),
      };
    }
    raw.close();
    printTable(results, runs);
    if (options.json) {
      writeFileSync(
        options.json,
        `${JSON.stringify({ benchmark: "transport", runs, results }, null, 2)}\n`,
      );
      console.log(`wrote ${options.json}`);
    }
  } finally {
    await tlsNode?.stop();
    await node.stop();
    for (const c of children) c.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Result {
  bosun: Figures;
  raw: Figures;
  ratio: number;
  /** bosun with the mesh over mutual TLS 1.3 (absent with --no-tls). */
  tls?: Figures;
}

function printTable(results: Record<string, Result>, runs: number): void {
  const f = (n: number, d = 0) => n.toFixed(d).padStart(10);
  console.log(`\ntransport benchmark (median of ${runs} runs; tells one-way, asks sequential)`);
  console.log("body    system   tells/s    ask p50 ms  ask p99 ms");
  for (const [size, r] of Object.entries(results)) {
    console.log(
      `${size.padEnd(7)} bosun  ${f(r.bosun.tellMsgsPerSec)} ${f(r.bosun.askP50Ms, 3)} ${f(r.bosun.askP99Ms, 3)}`,
    );
    console.log(
      `${size.padEnd(7)} raw    ${f(r.raw.tellMsgsPerSec)} ${f(r.raw.askP50Ms, 3)} ${f(r.raw.askP99Ms, 3)}`,
    );
    console.log(
      `${size.padEnd(7)} ratio  ${f(r.ratio, 2)} ${f(r.bosun.askP50Ms / r.raw.askP50Ms, 2)} ${f(r.bosun.askP99Ms / r.raw.askP99Ms, 2)}   (bosun/raw; tells: higher is better, asks: lower)`,
    );
    const tls = r.tls;
    if (tls === undefined) continue;
    console.log(
      `${size.padEnd(7)} tls    ${f(tls.tellMsgsPerSec)} ${f(tls.askP50Ms, 3)} ${f(tls.askP99Ms, 3)}   (bosun, mesh over mutual TLS 1.3)`,
    );
    console.log(
      `${size.padEnd(7)} ratio  ${f(tls.tellMsgsPerSec / r.bosun.tellMsgsPerSec, 2)} ${f(tls.askP50Ms / r.bosun.askP50Ms, 2)} ${f(tls.askP99Ms / r.bosun.askP99Ms, 2)}   (tls/plaintext bosun)`,
    );
  }
}

const program = new Command("bench:transport")
  .option("--json <file>", "write all figures as JSON")
  .option("--runs <n>", "repetitions per workload (median reported)", "3")
  .option("--no-tls", "skip the bosun pair with the mesh over mutual TLS")
  .option("--tells <n>", "tells per run and body size (default 200000 for 100 B, 50000 for 4 KB)")
  .option("--raw-server <host:port>", "internal: run the raw baseline server");
program.parse(process.argv);
const opts = program.opts<{
  json?: string;
  runs: string;
  tls: boolean;
  tells?: string;
  rawServer?: string;
}>();
if (opts.tells !== undefined) tellsOverride = Number(opts.tells);
if (opts.rawServer) {
  const [host, port] = opts.rawServer.split(":");
  runRawServer(host as string, Number(port));
} else {
  main(opts).then(
    () => process.exit(0),
    (error: Error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
