/**
 * Hollow nodes (Kubernetes' kubemark): N real kubelets in one process, each with the hollow
 * runtime, against a real cluster. Each registers its own Node (`hollow-0001`, …), renews its
 * node Lease and runs the pods bound to it — nothing behind them — so the API server, the
 * store, the scheduler and the controllers carry a thousand nodes' load on one machine.
 *
 * - Write rate. A real bosun kubelet renews its Lease every second; a thousand in lockstep
 *   would arrive as one burst of a thousand writes. Registrations go at most
 *   `maxRegistrationsInFlight` at a time, which spreads the nodes' renewal phases over the
 *   interval, and each node renews after a jittered interval in
 *   `[interval × (1 − jitter), interval]` — never later than asked, so the node lifecycle
 *   controller's grace period is as safe as for a real kubelet — so phases do not lock again.
 *   The interval itself is an option: at 1 s a thousand nodes are a thousand Lease writes a
 *   second (Kubernetes' 10 s interval makes kubemark's a hundred); it must stay well under the
 *   node lifecycle controller's grace period (4 s) or healthy hollow nodes get tainted.
 * - Pod IPs are fake and never bound: node i hands out addresses from its own /24 in
 *   127.250.0.0–127.255.255.255 (`hollowPodCidr`), above the 127.200–127.249 /24s that real
 *   nodes use (`podCidrFor`), so they are distinct across hollow and real nodes. The /24's
 *   first address is the node's InternalIP.
 * - pods/log: the API server asks `<nodeName>/kubelet` over the mesh; a hollow node is not a
 *   mesh member, so `kubectl logs` of a hollow pod fails. `logs()` on the handle works.
 */

import { join } from "node:path";
import type { Logger } from "pino";
import { nodeUser } from "../api/user-info.ts";
import { ApiClient } from "../client/api-client.ts";
import type { ActorSystem } from "../system/actor-system.ts";
import { type Clock, sleep } from "../system/clock.ts";
import { HollowProbeRunner, HollowRuntime } from "./hollow-runtime.ts";
import { type KubeletHandle, startKubelet } from "./kubelet.ts";
import { DEFAULT_KUBELET_LIMITS } from "./limits.ts";
import { PodIpAllocator } from "./pod-ip-allocator.ts";

/** Label every hollow node carries, so that a test can aim pods at (or away from) them. */
export const HOLLOW_NODE_LABEL = "bosun.dev/hollow-node";
/** kubemark's hollow node shape: a big machine, Kubernetes' default pod limit. */
export const HOLLOW_NODE_CAPACITY: Readonly<Record<string, string>> = {
  cpu: "32",
  memory: "128Gi",
  pods: "110",
  "ephemeral-storage": "100Gi",
};
/** Node indexes map to /24s in 127.250.0.0–127.255.255.255: six /16s of 256 /24s. */
export const MAX_HOLLOW_NODES = 6 * 256;
const HOLLOW_CIDR_FIRST_OCTET = 250;
/** Registrations in flight at once (each is a Node create, a status patch, a Lease create). */
export const DEFAULT_MAX_REGISTRATIONS_IN_FLIGHT = 50;
/** Renewal intervals are spread over [interval × (1 − jitter), interval]. */
export const DEFAULT_LEASE_RENEW_JITTER = 0.1;
/** How often a registration's progress is looked at. */
const REGISTRATION_POLL_MS = 20;

export interface HollowNodesOptions {
  system: ActorSystem;
  /** The API servers' node ids; node i starts with server i mod n (spread, like a balancer). */
  servers: () => string[];
  clock: Clock;
  logger: Logger;
  count: number;
  /** Index of the first node (default 1): several processes can split one range. */
  firstIndex?: number;
  /** Node names are `<prefix><index, 4 digits>` (default `hollow-`). */
  namePrefix?: string;
  /** Each kubelet's rootDir is `<rootDir>/<node>` (only volumes' files land there). */
  rootDir: string;
  capacity?: Record<string, string>;
  labels?: Record<string, string>;
  /** Default: the kubelet's own (1 s). */
  leaseRenewIntervalMs?: number;
  leaseRenewJitter?: number;
  maxRegistrationsInFlight?: number;
  /** For the jitter; defaults to Math.random. */
  random?: () => number;
}

export interface HollowNodesHandle {
  readonly nodes: readonly KubeletHandle[];
  /** Nodes whose Node object is registered and whose Lease has been renewed once. */
  registered(): number;
  /** Resolves once every node is registered; rejects if stopped first. */
  readonly allRegistered: Promise<void>;
  /** Stops every kubelet (their hollow containers stop at once). Node objects stay. */
  stop(): Promise<void>;
}

/** `hollow-0001`. */
export function hollowNodeName(prefix: string, index: number): string {
  return `${prefix}${String(index).padStart(4, "0")}`;
}

/** Node `index`'s pod /24 (see the file comment). */
export function hollowPodCidr(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_HOLLOW_NODES)
    throw new Error(`hollow node index must be in 0..${MAX_HOLLOW_NODES - 1}, got ${index}`);
  const second = HOLLOW_CIDR_FIRST_OCTET + Math.floor(index / 256);
  return `127.${second}.${index % 256}.0/24`;
}

/** The node's InternalIP: its /24's first address (kept out of the pod pool). */
export function hollowHostIP(index: number): string {
  return hollowPodCidr(index).replace(/\.0\/24$/, ".1");
}

function rotated<T>(items: T[], by: number): T[] {
  if (items.length === 0) return items;
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

function isRegistered(kubelet: KubeletHandle): boolean {
  return kubelet.heartbeat().renewals > 0;
}

/**
 * Starts `count` hollow kubelets, registering them in a sliding window (see the file comment);
 * `allRegistered` tells when the last one is.
 */
export function startHollowNodes(options: HollowNodesOptions): HollowNodesHandle {
  const first = options.firstIndex ?? 1;
  if (!Number.isInteger(options.count) || options.count < 1)
    throw new Error(`hollow node count must be a positive integer, got ${options.count}`);
  if (first < 0 || first + options.count > MAX_HOLLOW_NODES)
    throw new Error(`hollow node indexes ${first}..${first + options.count - 1} exceed the range`);
  const prefix = options.namePrefix ?? "hollow-";
  const intervalMs = options.leaseRenewIntervalMs ?? DEFAULT_KUBELET_LIMITS.leaseRenewIntervalMs;
  const jitter = options.leaseRenewJitter ?? DEFAULT_LEASE_RENEW_JITTER;
  if (!(jitter >= 0 && jitter < 1))
    throw new Error(`lease jitter must be in [0, 1), got ${jitter}`);
  const random = options.random ?? Math.random;
  const maxInFlight = options.maxRegistrationsInFlight ?? DEFAULT_MAX_REGISTRATIONS_IN_FLIGHT;
  const capacity = { ...HOLLOW_NODE_CAPACITY, ...options.capacity };
  const nodes: KubeletHandle[] = [];
  let stopped = false;

  const startOne = (index: number): Promise<KubeletHandle> => {
    const nodeName = hollowNodeName(prefix, index);
    const hostIP = hollowHostIP(index);
    const runtime = new HollowRuntime({ clock: options.clock, nodeName });
    return startKubelet({
      system: options.system,
      api: new ApiClient({
        system: options.system,
        servers: () => rotated(options.servers(), index),
        user: nodeUser(nodeName),
      }),
      clock: options.clock,
      logger: options.logger.child({ node: nodeName }),
      nodeName,
      rootDir: join(options.rootDir, nodeName),
      capacity,
      labels: { [HOLLOW_NODE_LABEL]: "true", ...options.labels },
      hostIP,
      podIpAllocator: new PodIpAllocator({ cidr: hollowPodCidr(index), reserved: [hostIP] }),
      runtime,
      probes: new HollowProbeRunner(runtime),
      limits: {
        leaseRenewIntervalMs: Math.round(intervalMs * (1 - jitter * random())),
        maxPods: Number(capacity.pods),
      },
      actorName: `kubelet:${nodeName}`,
      // hollow containers read no environment: a Services watch per hollow node would be waste
      serviceEnvironment: false,
      recordEvents: false,
    });
  };

  const registerAll = async (): Promise<void> => {
    // a sliding window: the next node starts when one in the window has registered
    const pending: KubeletHandle[] = [];
    const waitFor = async (done: () => boolean) => {
      while (!done()) {
        if (stopped) throw new Error("hollow nodes stopped while registering");
        await sleep(options.clock, REGISTRATION_POLL_MS);
        for (let i = pending.length - 1; i >= 0; i--)
          if (isRegistered(pending[i] as KubeletHandle)) pending.splice(i, 1);
      }
    };
    for (let index = first; index < first + options.count; index++) {
      await waitFor(() => pending.length < maxInFlight);
      if (stopped) throw new Error("hollow nodes stopped while registering");
      const kubelet = await startOne(index);
      nodes.push(kubelet);
      pending.push(kubelet);
    }
    await waitFor(() => pending.length === 0);
    options.logger.info(
      { nodes: nodes.length, leaseRenewIntervalMs: intervalMs },
      "hollow nodes registered",
    );
  };

  const allRegistered = registerAll();
  allRegistered.catch(() => {}); // a stop during registration is the caller's doing
  return {
    nodes,
    allRegistered,
    registered: () => nodes.filter(isRegistered).length,
    stop: async () => {
      stopped = true;
      await allRegistered.catch(() => {});
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}
