/**
 * The local cloud's own database: a directory on this host (by default `<run-dir>/cloud`), the
 * durable, shared state that outlives any cloud controller manager leader and any node, as a
 * real cloud's API state outlives the clusters that call it. Every write is atomic (a temp file
 * renamed over the record); port claims are files created with O_EXCL, so two leaders racing
 * through a failover cannot hand one `ip:port` to two load balancers.
 *
 *   config.json               the provider's configuration (pool, region, zones)
 *   lbs/<lb name>.json        a load balancer: its IP, ports and backends (the data plane's input)
 *   claims/<ip>/<proto>-<port> which load balancer holds that listener
 *   routes/<route name>.json  the route table
 *   instances/<node>.json     the cluster's "machines": node processes that registered
 */

import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";

export interface LoadBalancerPort {
  name?: string;
  protocol: "TCP" | "UDP";
  port: number;
  nodePort: number;
}

export interface LoadBalancerBackend {
  node: string;
  address: string;
}

/** How the LB checks a backend: kube-proxy's health server, or a TCP connect to the NodePort. */
export type HealthCheck = { kind: "http"; port: number } | { kind: "tcp" };

export interface LoadBalancerRecord {
  name: string;
  cluster: string;
  /** `namespace/name` of the Service. */
  service: string;
  serviceUid: string;
  ip: string;
  ports: LoadBalancerPort[];
  backends: LoadBalancerBackend[];
  healthCheck: HealthCheck;
}

export interface RouteRecord {
  name: string;
  cluster: string;
  targetNode: string;
  destinationCIDR: string;
}

export interface InstanceRecord {
  /** The node name, which is the instance id. */
  id: string;
  pid: number;
  /** The process's start time in clock ticks since boot (/proc/<pid>/stat field 22): a pid
   * reused by another process is not this instance. */
  startTicks: number | null;
  address: string;
}

export interface LocalCloudConfig {
  /** Where the load balancers' external IPs come from. */
  pool: string;
  region: string;
  /** Node name → zone; a node not listed is a zone of its own (`<region>-<node>`). */
  zones: Record<string, string>;
  instanceType: string;
}

export const DEFAULT_LOCAL_CLOUD_CONFIG: LocalCloudConfig = {
  pool: "127.240.0.0/16",
  region: "local",
  zones: {},
  instanceType: "bosun.process",
};

export const LOCAL_CLOUD_CONFIG_FILE = "config.json";

/**
 * The pool of a cloud whose config names none: a /24 of 127.240.0.0/16 picked by a hash of its
 * state directory, so two clusters on one host (each its own cloud) rarely hand out the same
 * address (external IPs are host-wide).
 */
export function defaultPoolFor(stateDir: string): string {
  const third = createHash("sha256").update(stateDir).digest()[0] as number;
  return `127.240.${third}.0/24`;
}

/** Names that become file names: refuse anything that could leave the directory. */
function safeName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.length > 253)
    throw new Error(`local cloud: bad record name ${JSON.stringify(name)}`);
  return name;
}

function writeAtomically(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, `${JSON.stringify(value, null, 2)}\n`);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function readJson<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch {
    // absent, or being replaced (rename is atomic, so only absent in practice)
    return null;
  }
}

function readAll<T>(dir: string): T[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => readJson<T>(join(dir, f)))
    .filter((r): r is T => r !== null);
}

export class LocalCloudState {
  constructor(readonly dir: string) {
    for (const sub of ["lbs", "claims", "routes", "instances"])
      mkdirSync(join(dir, sub), { recursive: true });
  }

  get lbDir(): string {
    return join(this.dir, "lbs");
  }

  config(): LocalCloudConfig {
    const file = readJson<Partial<LocalCloudConfig>>(join(this.dir, LOCAL_CLOUD_CONFIG_FILE));
    return { ...DEFAULT_LOCAL_CLOUD_CONFIG, pool: defaultPoolFor(this.dir), ...(file ?? {}) };
  }

  writeConfig(config: Partial<LocalCloudConfig>): void {
    writeAtomically(join(this.dir, LOCAL_CLOUD_CONFIG_FILE), config);
  }

  loadBalancer(name: string): LoadBalancerRecord | null {
    return readJson<LoadBalancerRecord>(join(this.lbDir, `${safeName(name)}.json`));
  }

  loadBalancers(): LoadBalancerRecord[] {
    return readAll<LoadBalancerRecord>(this.lbDir);
  }

  putLoadBalancer(record: LoadBalancerRecord): void {
    writeAtomically(join(this.lbDir, `${safeName(record.name)}.json`), record);
  }

  deleteLoadBalancer(name: string): void {
    rmSync(join(this.lbDir, `${safeName(name)}.json`), { force: true });
  }

  /** IPs with at least one claimed listener. */
  claimedIps(): Set<string> {
    const dir = join(this.dir, "claims");
    return new Set(readdirSync(dir).filter((ip) => readdirSync(join(dir, ip)).length > 0));
  }

  /** Who holds `ip`'s `protocol`/`port` listener, or null. */
  claimHolder(ip: string, protocol: string, port: number): string | null {
    try {
      return readFileSync(join(this.dir, "claims", safeName(ip), `${protocol}-${port}`), "utf8");
    } catch {
      return null;
    }
  }

  /**
   * Claims a listener for `lbName`: `created` (now this LB's), `held` (it already was) or
   * `taken` (another LB's). O_EXCL makes the first creator win, across processes.
   */
  claim(ip: string, protocol: string, port: number, lbName: string): "created" | "held" | "taken" {
    const dir = join(this.dir, "claims", safeName(ip));
    mkdirSync(dir, { recursive: true });
    try {
      const fd = openSync(join(dir, `${protocol}-${port}`), "wx", 0o600);
      writeSync(fd, lbName);
      closeSync(fd);
      return "created";
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      return this.claimHolder(ip, protocol, port) === lbName ? "held" : "taken";
    }
  }

  /** Releases one listener claim if `lbName` holds it. */
  releaseClaim(ip: string, protocol: string, port: number, lbName: string): void {
    if (this.claimHolder(ip, protocol, port) === lbName)
      rmSync(join(this.dir, "claims", safeName(ip), `${protocol}-${port}`), { force: true });
  }

  /** Releases `lbName`'s claims on `ip` other than `keep` (`PROTO-port` names). */
  releaseClaims(ip: string, lbName: string, keep: ReadonlySet<string> = new Set()): void {
    const dir = join(this.dir, "claims", safeName(ip));
    if (!existsSync(dir)) return;
    for (const file of readdirSync(dir)) {
      if (keep.has(file)) continue;
      const [protocol = "", port = ""] = file.split("-");
      this.releaseClaim(ip, protocol, Number(port), lbName);
    }
    if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true, force: true });
  }

  routes(): RouteRecord[] {
    return readAll<RouteRecord>(join(this.dir, "routes"));
  }

  putRoute(route: RouteRecord): void {
    writeAtomically(join(this.dir, "routes", `${safeName(route.name)}.json`), route);
  }

  deleteRoute(name: string): void {
    rmSync(join(this.dir, "routes", `${safeName(name)}.json`), { force: true });
  }

  instance(id: string): InstanceRecord | null {
    return readJson<InstanceRecord>(join(this.dir, "instances", `${safeName(id)}.json`));
  }

  instances(): InstanceRecord[] {
    return readAll<InstanceRecord>(join(this.dir, "instances"));
  }

  putInstance(record: InstanceRecord): void {
    writeAtomically(join(this.dir, "instances", `${safeName(record.id)}.json`), record);
  }

  /** The instance is terminated: gone from the cloud (its Node is then deleted). */
  deleteInstance(id: string): void {
    rmSync(join(this.dir, "instances", `${safeName(id)}.json`), { force: true });
  }
}
