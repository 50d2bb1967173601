/**
 * A 3-member etcd cluster on loopback for the store benchmark (Debian's etcd-server 3.4,
 * installed on demand), spoken to through etcd's v3 HTTP/JSON gateway.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { SystemClock } from "../../../actors/system/clock.ts";
import { waitFor } from "../../support/wait.ts";
import type { BenchCluster, BenchKv } from "./kv-bench-client.ts";

const clock = new SystemClock();
const CLIENT_PORT = 2379;
const PEER_PORT = 2380;

export interface EtcdTimings {
  heartbeatMs: number;
  electionMs: number;
}

interface Member {
  name: string;
  host: string;
  dataDir: string;
  process: ChildProcess | null;
}

export function ensureEtcdInstalled(): void {
  if (existsSync("/usr/bin/etcd")) return;
  console.log("installing Debian's etcd-server (apt-get)…");
  execFileSync("apt-get", ["install", "-y", "etcd-server"], {
    stdio: "inherit",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
}

const b64 = (s: string | Uint8Array) => Buffer.from(s).toString("base64");

/** etcd's prefix range end: the prefix with its last byte incremented. */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix);
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) + 1;
  return bytes.toString("latin1");
}

async function post<T>(url: string, body: unknown): Promise<T> {
  const res = await fetch(url, { method: "POST", body: JSON.stringify(body) });
  const json = (await res.json()) as T & { error?: string; message?: string };
  if (!res.ok) throw new Error(`etcd ${url}: ${res.status} ${json.message ?? json.error ?? ""}`);
  return json;
}

class EtcdKv implements BenchKv {
  private readonly controllers: AbortController[] = [];
  constructor(private readonly endpoint: () => string) {}

  async put(key: string, value: Uint8Array): Promise<void> {
    await post(`${this.endpoint()}/v3/kv/put`, { key: b64(key), value: b64(value) });
  }

  async rangePrefix(prefix: string): Promise<number> {
    const res = await post<{ kvs?: unknown[] }>(`${this.endpoint()}/v3/kv/range`, {
      key: b64(prefix),
      range_end: b64(Buffer.from(prefixEnd(prefix), "latin1")),
    });
    return res.kvs?.length ?? 0;
  }

  async watchPrefix(prefix: string, onPut: (key: string, value: Uint8Array) => void) {
    const controller = new AbortController();
    this.controllers.push(controller);
    const res = await fetch(`${this.endpoint()}/v3/watch`, {
      method: "POST",
      signal: controller.signal,
      body: JSON.stringify({
        create_request: {
          key: b64(prefix),
          range_end: b64(Buffer.from(prefixEnd(prefix), "latin1")),
        },
      }),
    });
    const reader = res.body!.getReader();
    let created: () => void = () => {};
    const live = new Promise<void>((resolve) => {
      created = resolve;
    });
    (async () => {
      let buffered = "";
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        buffered += Buffer.from(value as Uint8Array).toString("utf8");
        let nl = buffered.indexOf("\n");
        while (nl >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          nl = buffered.indexOf("\n");
          const msg = JSON.parse(line) as {
            result?: { created?: boolean; events?: { kv: { key: string; value?: string } }[] };
          };
          if (msg.result?.created) created();
          for (const e of msg.result?.events ?? []) {
            onPut(
              Buffer.from(e.kv.key, "base64").toString(),
              Buffer.from(e.kv.value ?? "", "base64"),
            );
          }
        }
      }
    })();
    await live;
    return () => controller.abort();
  }

  async close(): Promise<void> {
    for (const c of this.controllers) c.abort();
  }
}

export class EtcdCluster implements BenchCluster {
  readonly name = "etcd";
  private readonly members: Member[];
  private endpointIndex = 0;

  constructor(
    private readonly baseIp: string,
    private readonly dir: string,
    private readonly timings: EtcdTimings,
  ) {
    const parts = baseIp.split(".").map(Number);
    this.members = [0, 1, 2].map((i) => ({
      name: `e${i + 1}`,
      host: `${parts[0]}.${parts[1]}.${parts[2]}.${(parts[3] as number) + i}`,
      dataDir: join(dir, `e${i + 1}`),
      process: null,
    }));
  }

  async start(): Promise<void> {
    ensureEtcdInstalled();
    for (const m of this.members) this.spawnMember(m, "new");
    await waitFor("etcd healthy", () => this.healthy(), 30_000, 100);
  }

  private spawnMember(m: Member, state: "new" | "existing"): void {
    mkdirSync(m.dataDir, { recursive: true });
    const cluster = this.members.map((x) => `${x.name}=http://${x.host}:${PEER_PORT}`).join(",");
    m.process = spawn(
      "etcd",
      [
        "--name",
        m.name,
        "--data-dir",
        m.dataDir,
        "--listen-client-urls",
        `http://${m.host}:${CLIENT_PORT}`,
        "--advertise-client-urls",
        `http://${m.host}:${CLIENT_PORT}`,
        "--listen-peer-urls",
        `http://${m.host}:${PEER_PORT}`,
        "--initial-advertise-peer-urls",
        `http://${m.host}:${PEER_PORT}`,
        "--initial-cluster",
        cluster,
        "--initial-cluster-state",
        state,
        "--initial-cluster-token",
        "bosun-bench",
        "--heartbeat-interval",
        String(this.timings.heartbeatMs),
        "--election-timeout",
        String(this.timings.electionMs),
        "--logger",
        "zap",
        "--log-level",
        "error",
      ],
      { stdio: ["ignore", "ignore", "ignore"] },
    );
  }

  private async healthy(): Promise<boolean> {
    try {
      return await this.leaderPid().then(() => true);
    } catch {
      return false;
    }
  }

  endpoint(): string {
    const alive = this.members.filter(
      (m) => m.process?.exitCode === null && m.process.signalCode === null,
    );
    const m = alive[this.endpointIndex++ % Math.max(1, alive.length)] ?? this.members[0]!;
    return `http://${m.host}:${CLIENT_PORT}`;
  }

  /** A client pinned to the leader's endpoint when there is one (writes go there anyway). */
  async client(): Promise<BenchKv> {
    const leader = await this.leaderMember().catch(() => undefined);
    const fixed = leader ? `http://${leader.host}:${CLIENT_PORT}` : undefined;
    return new EtcdKv(() => fixed ?? this.endpoint());
  }

  private async leaderMember(): Promise<Member> {
    for (const m of this.members) {
      if (m.process?.exitCode !== null || m.process.signalCode !== null) continue;
      const res = await fetch(`http://${m.host}:${CLIENT_PORT}/v3/maintenance/status`, {
        method: "POST",
        body: "{}",
        signal: AbortSignal.timeout(1_000),
      }).catch(() => undefined);
      if (!res?.ok) continue;
      const status = (await res.json()) as { header: { member_id: string }; leader: string };
      if (status.leader !== "0" && status.leader === status.header.member_id) return m;
    }
    throw new Error("no etcd leader");
  }

  async leaderPid(): Promise<number> {
    const m = await this.leaderMember();
    return m.process!.pid!;
  }

  memberPids(): number[] {
    return this.members.map((m) => m.process?.pid ?? 0);
  }

  async restart(pid: number): Promise<void> {
    const m = this.members.find((x) => x.process?.pid === pid);
    if (!m) throw new Error(`no etcd member with pid ${pid}`);
    if (m.process && m.process.exitCode === null && m.process.signalCode === null) {
      await new Promise((resolve) => m.process!.once("exit", resolve));
    }
    this.spawnMember(m, "existing");
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.members.map(async (m) => {
        const p = m.process;
        if (!p || p.exitCode !== null || p.signalCode !== null) return;
        const gone = new Promise((resolve) => p.once("exit", resolve));
        p.kill("SIGTERM");
        const timer = clock.setTimeout(() => p.kill("SIGKILL"), 5_000);
        await gone;
        clock.clearTimeout(timer);
      }),
    );
  }
}
