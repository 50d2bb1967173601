/**
 * The kernel data path's rule writer (kube-proxy's iptables/nftables `syncProxyRules`): the
 * frontends of one proxy, written as one chain (iptables, nat table, jumped to from OUTPUT) or
 * one table (nftables) that this proxy owns, in one exec per sync.
 *
 *   requestSync ──(same tick: coalesced)──▶ syncing ──ok──▶ idle
 *                                             │  ▲  └─failed──▶ wait retryMs ──┘
 *                                             └──┘ changed meanwhile: once more
 *
 * - Named per cluster and node (`BOSUN-<cluster>-<node>` / `bosun-<cluster>-<node>`), so two
 *   clusters, or two nodes of one cluster, on one host never write the same chain, and nothing
 *   global is flushed: only our chain, our jump from OUTPUT, our table.
 * - Ownership is an abstract unix socket named after the chain (host-lock.ts): the kernel frees
 *   it when the process dies, even by SIGKILL. A proxy starting, or taking over the cluster IPs,
 *   deletes its cluster's chains whose owner socket it can bind: their process is gone, and
 *   their rules (a dead holder's cluster IPs, a dead node's NodePorts) must not outlive it.
 * - UDP has no connection to end: conntrack keeps sending a flow to the endpoint it was NATed
 *   to. After a sync, the entries of endpoints that left a UDP frontend are deleted, and so are
 *   entries a frontend's address had without NAT before it had endpoints (kube-proxy's
 *   conntrack cleanup), with the `conntrack` tool (Debian's `conntrack`); without it they live
 *   until they expire (30 s idle), which is logged once.
 * - On stop the chain (or table) and the jump are deleted synchronously, before the process
 *   goes, so a clean stop leaves nothing behind.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import type { Clock, TimerId } from "../system/clock.ts";
import { type DnatFrontend, iptablesRestoreText, nftScript } from "./dnat-rules.ts";
import { HostLock } from "./host-lock.ts";
import { type KernelProxyMode, XTABLES_LOCK_WAIT_SECONDS } from "./proxy-mode.ts";

/** Something that has rules to write: a frontend, while it holds its address:port. */
export interface DnatSource {
  dnat(): DnatFrontend | null;
}

export interface KernelRulesOptions {
  mode: KernelProxyMode;
  clusterIdentity: string;
  nodeName: string;
  clock: Clock;
  logger: Logger;
  /** Pause before a failed sync is tried again. */
  retryMs: number;
}

function hash8(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 8);
}

/** The chain and table of a node of a cluster, and the prefix all its cluster's share. */
export function kernelRulesNames(clusterIdentity: string, nodeName: string) {
  const cluster = hash8(`bosun cluster\0${clusterIdentity}`);
  const node = hash8(`bosun node\0${nodeName}`);
  return {
    chain: `BOSUN-${cluster}-${node}`,
    table: `bosun-${cluster}-${node}`,
    chainPattern: new RegExp(`^:(BOSUN-${cluster}-[0-9a-f]{8}) `, "m"),
    tablePattern: new RegExp(`^table ip (bosun-${cluster}-[0-9a-f]{8})$`, "m"),
  };
}

/** The owner socket of a chain or table (the same for both modes: one name per node). */
function ownerLockName(chainOrTable: string): string {
  return `\0bosun-proxy-rules-${chainOrTable.toLowerCase()}`;
}

/**
 * Runs a command with `input` on stdin; rejects with its stderr when it fails. `started` sees
 * the child, so a stop can end a write that is still going.
 */
function run(
  command: string,
  args: string[],
  input?: string,
  started?: (child: ChildProcess) => void,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    started?.(child);
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${command}: exit ${code}: ${err.trim()}`)),
    );
    child.stdin.on("error", () => undefined); // a command that dies early: its exit code says why
    child.stdin.end(input ?? "");
  });
}

const XTABLES_WAIT = ["-w", String(XTABLES_LOCK_WAIT_SECONDS)];

/**
 * Kills a child and blocks until it has ended. The event loop is blocked, so nothing reaps it:
 * it ends as a zombie ('Z' in /proc/<pid>/stat), which has made its last syscall. Bounded, so
 * a child stuck in the kernel cannot hang a stop.
 */
function killAndWaitSync(child: ChildProcess, timeoutMs: number): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGKILL");
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const pauseMs = 2;
  // the pauses bound it, not a clock: no time is read, and a manual clock cannot stall it
  for (let waitedMs = 0; waitedMs < timeoutMs; waitedMs += pauseMs) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${child.pid}/stat`, "utf8");
    } catch {
      return; // already reaped
    }
    // the state follows the command name, which is in parentheses and may hold spaces
    if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return;
    Atomics.wait(pause, 0, 0, pauseMs);
  }
}

function frontendKey(f: DnatFrontend): string {
  return `${f.protocol} ${f.address}:${f.port}`;
}

export class KernelRules {
  readonly names: ReturnType<typeof kernelRulesNames>;
  private readonly sources = new Set<DnatSource>();
  /** What the last successful sync wrote, per source. */
  private applied = new Map<DnatSource, DnatFrontend>();
  private readonly owner: HostLock;
  private ready: Promise<void>;
  private scheduled: TimerId | null = null;
  private running = false;
  private dirty = false;
  private stopped = false;
  /** Rule writes now running: a stop ends them first, or one could land after the delete. */
  private readonly writing = new Set<ChildProcess>();
  private readonly track = (child: ChildProcess): void => {
    this.writing.add(child);
    child.once("close", () => this.writing.delete(child));
  };
  private conntrackMissingLogged = false;
  /** The text of the last successful write ("" before any: the first sync always writes). */
  private written = "";
  /** Syncs written, and the last error (null after a success): for status and tests. */
  syncs = 0;
  lastError: string | null = null;

  constructor(private readonly options: KernelRulesOptions) {
    this.names = kernelRulesNames(options.clusterIdentity, options.nodeName);
    this.owner = new HostLock(ownerLockName(this.names.chain));
    this.ready = this.setUp();
  }

  /** Starts setting up; a failure is seen (and the setup tried again) by the next sync. */
  private setUp(): Promise<void> {
    const ready = this.start();
    ready.catch(() => undefined); // not unhandled while no sync awaits it
    return ready;
  }

  get mode(): KernelProxyMode {
    return this.options.mode;
  }

  add(source: DnatSource): void {
    this.sources.add(source);
    this.requestSync();
  }

  remove(source: DnatSource): void {
    if (this.sources.delete(source)) this.requestSync();
  }

  /** The source's rules are in the kernel as it last asked. */
  isApplied(source: DnatSource): boolean {
    return this.applied.has(source);
  }

  /** No sync pending or running, and the last one succeeded: the kernel has what was asked. */
  settled(): boolean {
    return !this.dirty && !this.running && this.scheduled === null && this.lastError === null;
  }

  /** Writes the rules soon: every change made in this tick goes into one exec. */
  requestSync(): void {
    this.dirty = true;
    if (this.stopped || this.running || this.scheduled !== null) return;
    this.scheduled = this.options.clock.setTimeout(() => {
      this.scheduled = null;
      void this.runSyncs();
    }, 0);
  }

  /** Deletes the chains of this cluster whose owner is gone (a SIGKILLed holder's). */
  async deleteStaleRules(): Promise<void> {
    const listing =
      this.mode === "iptables"
        ? await run("iptables-save", ["-t", "nat"])
        : await run("nft", ["list", "tables"]);
    const pattern = new RegExp(
      this.mode === "iptables" ? this.names.chainPattern.source : this.names.tablePattern.source,
      "gm",
    );
    const own = this.ownRules();
    for (const match of listing.matchAll(pattern)) {
      const name = match[1] as string;
      if (name === own) continue;
      const probe = new HostLock(ownerLockName(name));
      if (!(await probe.tryAcquire())) continue; // its owner lives
      try {
        this.deleteRulesSync(name);
        this.options.logger.info({ rules: name }, "deleted the rules of a proxy that is gone");
      } finally {
        probe.release();
      }
    }
  }

  /** Deletes this proxy's rules now (synchronously: a stopping process may exit next). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.scheduled !== null) this.options.clock.clearTimeout(this.scheduled);
    // a write still going would put the rules back after the delete below
    for (const child of this.writing) killAndWaitSync(child, 2_000);
    this.deleteRulesSync(this.ownRules());
    this.applied = new Map();
    this.owner.release();
  }

  /** This proxy's chain (iptables) or table (nftables). */
  private ownRules(): string {
    return this.mode === "iptables" ? this.names.chain : this.names.table;
  }

  private async start(): Promise<void> {
    // a previous process of this node (SIGKILLed, or still going away) may hold the owner
    // socket for a moment: try a few times before writing anyway
    for (let i = 0; i < 20 && !(await this.owner.tryAcquire()); i++)
      await new Promise<void>((r) => this.options.clock.setTimeout(r, 50));
    await this.deleteStaleRules().catch((error: Error) =>
      this.options.logger.warn({ error: error.message }, "cannot list the host's proxy rules"),
    );
    if (this.mode === "iptables") {
      await run(
        "iptables-restore",
        [...XTABLES_WAIT, "--noflush"],
        iptablesRestoreText(this.names.chain, []),
        this.track,
      );
      const jump = (op: string) => [
        ...XTABLES_WAIT,
        "-t",
        "nat",
        op,
        "OUTPUT",
        "-j",
        this.names.chain,
      ];
      const exists = spawnSync("iptables", jump("-C"), { stdio: "ignore" });
      if (exists.status !== 0) await run("iptables", jump("-I"), undefined, this.track);
    }
    // stopped while setting up: what was just created goes too
    if (this.stopped)
      this.deleteRulesSync(this.mode === "iptables" ? this.names.chain : this.names.table);
  }

  private async runSyncs(): Promise<void> {
    this.running = true;
    while (this.dirty && !this.stopped) {
      this.dirty = false;
      const desired = new Map<DnatSource, DnatFrontend>();
      for (const source of this.sources) {
        const f = source.dnat();
        if (f !== null && f.endpoints.length > 0) desired.set(source, f);
      }
      try {
        await this.ready.catch((error: Error) => {
          this.ready = this.setUp();
          throw new Error(`setting up the proxy's rules: ${error.message}`);
        });
        const text = this.render([...desired.values()]);
        // most changes (a Service without endpoints yet, a slice update that moves nothing,
        // a cluster IP on a node that does not hold them) leave the rules as they are: no exec
        // (an exec forks this whole process, and costs the kernel a ruleset transaction)
        const unchanged = text === this.written;
        if (!unchanged) await this.write(text);
        // stopped while writing: stop() deleted the rules before this write put them back
        if (this.stopped) {
          this.deleteRulesSync(this.ownRules());
          break;
        }
        const before = this.applied;
        this.applied = desired;
        this.written = text;
        this.lastError = null;
        if (unchanged) continue;
        this.syncs++;
        await this.deleteStaleUdpFlows([...before.values()], [...desired.values()]);
      } catch (error) {
        const message = (error as Error).message;
        // once per streak: a host where the rules cannot be written fails every retry alike
        if (message !== this.lastError)
          this.options.logger.warn({ error: message }, "cannot write the proxy's rules");
        this.lastError = message;
        this.dirty = true;
        await new Promise<void>((r) => this.options.clock.setTimeout(r, this.options.retryMs));
      }
    }
    this.running = false;
  }

  private render(frontends: DnatFrontend[]): string {
    return this.mode === "iptables"
      ? iptablesRestoreText(this.names.chain, frontends)
      : nftScript(this.names.table, frontends);
  }

  private write(text: string): Promise<string> {
    return this.mode === "iptables"
      ? run("iptables-restore", [...XTABLES_WAIT, "--noflush"], text, this.track)
      : run("nft", ["-f", "-"], text, this.track);
  }

  private deleteRulesSync(name: string): void {
    const quiet = { stdio: "ignore" as const };
    if (this.mode === "nftables") {
      // a delete can lose a race with another process's transaction: done when the table is gone
      for (let i = 0; i < 5; i++) {
        spawnSync("nft", ["delete", "table", "ip", name], quiet);
        if (spawnSync("nft", ["list", "table", "ip", name], quiet).status !== 0) return;
      }
      return;
    }
    // a jump added twice (two processes racing at start) is deleted twice
    for (let i = 0; i < 8; i++) {
      const r = spawnSync(
        "iptables",
        [...XTABLES_WAIT, "-t", "nat", "-D", "OUTPUT", "-j", name],
        quiet,
      );
      if (r.status !== 0) break;
    }
    spawnSync("iptables", [...XTABLES_WAIT, "-t", "nat", "-F", name], quiet);
    spawnSync("iptables", [...XTABLES_WAIT, "-t", "nat", "-X", name], quiet);
  }

  /** kube-proxy's conntrack cleanup for UDP (see the header). */
  private async deleteStaleUdpFlows(before: DnatFrontend[], after: DnatFrontend[]): Promise<void> {
    const now = new Map(after.filter((f) => f.protocol === "UDP").map((f) => [frontendKey(f), f]));
    const was = new Map(before.filter((f) => f.protocol === "UDP").map((f) => [frontendKey(f), f]));
    const flowsTo = (f: DnatFrontend) => [
      "-D",
      "-p",
      "udp",
      "--orig-dst",
      f.address,
      "--orig-port-dst",
      String(f.port),
    ];
    const deletions: string[][] = [];
    for (const [key, f] of was) {
      const current = now.get(key);
      // a frontend gone: every flow to it (NATed, or served by its listener before the rule)
      if (current === undefined) {
        deletions.push(flowsTo(f));
        continue;
      }
      const still = new Set(current.endpoints);
      for (const endpoint of f.endpoints) {
        if (still.has(endpoint)) continue;
        const colon = endpoint.lastIndexOf(":");
        deletions.push([
          ...flowsTo(f),
          "--reply-src",
          endpoint.slice(0, colon),
          "--reply-port-src",
          endpoint.slice(colon + 1),
        ]);
      }
    }
    // a new frontend: flows its listener took before the rule (not NATed) move to the kernel
    for (const [key, f] of now)
      if (!was.has(key)) deletions.push([...flowsTo(f), "--reply-src", f.address]);
    await Promise.all(
      deletions.map((args) =>
        // exit 1 is "0 flow entries deleted": nothing to do
        run("conntrack", args).catch((error: NodeJS.ErrnoException) => {
          if (error.code === "ENOENT" && !this.conntrackMissingLogged) {
            this.conntrackMissingLogged = true;
            this.options.logger.warn(
              "conntrack is not installed: UDP flows to removed endpoints live until they expire",
            );
          }
        }),
      ),
    );
  }
}
