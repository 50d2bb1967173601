/**
 * The Service REST storage's allocators (kube-apiserver's ipallocator and portallocator over
 * etcd), for any number of API servers with no leader: each value a Service holds has its own
 * key (registry-keys.ts), written in the Service's own txn — created under `createRevision == 0`,
 * so two API servers that pick the same value cannot both commit, and released under the
 * `modRevision` it was read at, so a release never takes another Service's key.
 *
 * A write's values come from `planAllocation` (api/service-allocation.ts) over what is taken:
 * the keys whose Service (by uid) still exists, and the values of every Service (a Service
 * created before the keys existed holds its values without one). The first attempt reads these
 * from the watch cache (no store round: the create answers with its IP at once); when its txn
 * loses a race, the caller tries again with `fresh` reads from the store.
 *
 * A key whose Service is gone (removed with its namespace, in a txn that cannot name every key
 * of every Service in it) is a leak: it is not taken, the next Service that picks its value
 * takes the key over, guarded by the leaked key's `modRevision`, and the repair loop
 * (service-allocation-repair.ts) removes it within a minute.
 */
import { randomInt } from "node:crypto";
import type { Compare, TxnOp } from "../../raft/mvcc/commands.ts";
import { type IntRange, inRange, ipv4ToNumber, numberToIpv4 } from "../api/allocation-range.ts";
import { asObject, asString, type JsonObject } from "../api/json.ts";
import { resourceByPlural } from "../api/resources.ts";
import {
  allocationOf,
  DEFAULT_NODE_PORT_RANGE,
  NO_ALLOCATION,
  needsAllocation,
  planAllocation,
  type ServiceAllocation,
  type ServiceRanges,
  serviceRanges,
} from "../api/service-allocation.ts";
import { internalErrorStatus, invalidStatus } from "../api/status.ts";
import { DEFAULT_SERVICE_CLUSTER_IP_CIDR } from "../api/well-known.ts";
import { ApiError } from "../client/errors.ts";
import type { HeldValues } from "./guaranteed-update.ts";
import { type AlsoInTxn, NOTHING_ELSE, type ObjectStore } from "./object-store.ts";
import {
  collectionPrefix,
  NODE_PORT_KEYS_PREFIX,
  SERVICE_IP_KEYS_PREFIX,
} from "./registry-keys.ts";

const enc = (s: string) => Buffer.from(s, "utf8");

const SERVICES_PREFIX = collectionPrefix(
  resourceByPlural("services") ?? { group: "", plural: "services", namespaced: true },
  null,
);

export function serviceIPKey(ip: number): string {
  return `${SERVICE_IP_KEYS_PREFIX}${numberToIpv4(ip)}`;
}

export function nodePortKey(port: number): string {
  return `${NODE_PORT_KEYS_PREFIX}${port}`;
}

/** What an allocation key holds: the value it stands for and its Service. */
export function allocationRecord(svc: JsonObject, value: string): JsonObject {
  const meta = asObject(svc.metadata);
  return {
    value,
    service: {
      namespace: asString(meta.namespace),
      name: asString(meta.name),
      uid: asString(meta.uid),
    },
  };
}

/** The uid of the Service an allocation key names. */
export function ownerUidOf(record: JsonObject): string {
  return asString(asObject(record.service).uid);
}

function modRevisionOf(record: JsonObject): number {
  return Number(asObject(record.metadata).resourceVersion ?? 0);
}

export interface ServiceAllocatorOptions {
  clusterIPCidr: string;
  nodePortRange: IntRange;
  /** A random integer in [0, bound): where the scan for a free value starts. */
  random: (bound: number) => number;
}

export const DEFAULT_SERVICE_ALLOCATOR_OPTIONS: ServiceAllocatorOptions = {
  clusterIPCidr: DEFAULT_SERVICE_CLUSTER_IP_CIDR,
  nodePortRange: DEFAULT_NODE_PORT_RANGE,
  random: (bound) => randomInt(bound),
};

/** The range keys and Services at one revision, as seen by one Service (`selfUid`). */
interface Snapshot {
  services: JsonObject[];
  taken: { ips: Set<number>; nodePorts: Set<number> };
  /** Every allocation key, with its revision and whether its Service is gone. */
  keys: Map<string, { ownerUid: string; modRevision: number; leaked: boolean }>;
}

/**
 * Keys one repair round writes at most (each its own txn); the rest wait for the next round, so
 * a large backlog — the first round after an upgrade — never floods the store.
 */
export const MAX_REPAIRS_PER_ROUND = 200;

/** What a repair round did. */
export interface RepairReport {
  /** Keys removed: their Service is gone. */
  released: number;
  /** Keys written for values a Service held without one (created before keys existed). */
  recorded: number;
}

export class ServiceAllocator implements HeldValues {
  readonly ranges: ServiceRanges;
  private readonly random: (bound: number) => number;

  constructor(
    private readonly store: ObjectStore,
    options: Partial<ServiceAllocatorOptions> = {},
  ) {
    const o = { ...DEFAULT_SERVICE_ALLOCATOR_OPTIONS, ...options };
    this.ranges = serviceRanges(o.clusterIPCidr, o.nodePortRange);
    this.random = o.random;
  }

  /**
   * The Service as it will be written with the values it needs, and the key writes that claim
   * them and release those it no longer holds. 422 for a chosen value that is taken or out of
   * range, 500 for a full range (as kube-apiserver answers both).
   */
  async onWrite(
    next: JsonObject,
    old: JsonObject | null,
    fresh: boolean,
  ): Promise<{ object: JsonObject; also: AlsoInTxn }> {
    if (!needsAllocation(next) && !holdsOtherValues(next, old))
      return { object: next, also: NOTHING_ELSE };
    const selfUid = asString(asObject(next.metadata).uid);
    let snapshot = await this.snapshot(fresh, selfUid);
    let result = planAllocation(next, old, snapshot.taken, this.ranges, this.random);
    if (result.kind !== "ok" && !fresh) {
      // a refusal stands only on the store's word: the cache may still show a released value
      snapshot = await this.snapshot(true, selfUid);
      result = planAllocation(next, old, snapshot.taken, this.ranges, this.random);
    }
    const name = asString(asObject(next.metadata).name);
    if (result.kind === "invalid")
      throw new ApiError(invalidStatus({ group: "", kind: "Service" }, name, result.errors));
    if (result.kind === "full")
      throw new ApiError(
        internalErrorStatus(
          `failed to allocate a ${result.range === "serviceIP" ? "serviceIP" : "nodePort"}: range is full`,
        ),
      );
    const { object, claimed, released } = result.plan;
    const compare: Compare[] = [];
    const success: TxnOp[] = [];
    for (const [key, text] of keysOf(claimed)) {
      const seen = snapshot.keys.get(key);
      // a leaked key is taken over as it was read; any other must not exist yet
      compare.push(
        seen?.leaked
          ? { target: "modRevision", key: enc(key), result: "=", operand: seen.modRevision }
          : { target: "createRevision", key: enc(key), result: "=", operand: 0 },
      );
      success.push({
        op: "put",
        key: enc(key),
        value: enc(JSON.stringify(allocationRecord(object, text))),
      });
    }
    for (const [key] of keysOf(released)) {
      const seen = snapshot.keys.get(key);
      if (seen === undefined || seen.ownerUid !== selfUid) continue; // not ours to release
      compare.push({
        target: "modRevision",
        key: enc(key),
        result: "=",
        operand: seen.modRevision,
      });
      success.push({ op: "deleteRange", key: enc(key) });
    }
    return { object, also: { compare, success } };
  }

  /** Releases the keys the Service holds, in the txn that removes it. */
  async onRemove(svc: JsonObject): Promise<AlsoInTxn> {
    const uid = asString(asObject(svc.metadata).uid);
    const keys = keysOf(allocationOf(svc)).map(([key]) => key);
    const found = await Promise.all(keys.map((key) => this.store.get(key, false)));
    const compare: Compare[] = [];
    const success: TxnOp[] = [];
    keys.forEach((key, i) => {
      const hit = found[i];
      if (!hit || ownerUidOf(hit.object) !== uid) return;
      compare.push({ target: "modRevision", key: enc(key), result: "=", operand: hit.modRevision });
      success.push({ op: "deleteRange", key: enc(key) });
    });
    return { compare, success };
  }

  /**
   * kube-apiserver's allocation repair (ipallocator/portallocator `Repair.RunOnce`), from one
   * linearizable snapshot: removes keys whose Service is gone, and records a key for each value
   * a Service holds without one (created before the API server allocated; the oldest Service
   * first, so of two sharing a value the first keeps it). Each key is its own txn, guarded as
   * read: a key taken over or created meanwhile is left alone. Safe on every API server at once.
   */
  async repair(): Promise<RepairReport> {
    const snapshot = await this.snapshot(true, "");
    const writes: { compare: Compare; op: TxnOp; kind: keyof RepairReport }[] = [];
    for (const [key, seen] of snapshot.keys)
      if (seen.leaked)
        writes.push({
          compare: { target: "modRevision", key: enc(key), result: "=", operand: seen.modRevision },
          op: { op: "deleteRange", key: enc(key) },
          kind: "released",
        });
    const byAge = [...snapshot.services].sort((a, b) =>
      asString(asObject(a.metadata).creationTimestamp).localeCompare(
        asString(asObject(b.metadata).creationTimestamp),
      ),
    );
    const recorded = new Set<string>();
    for (const svc of byAge)
      for (const [key, text] of keysOf(allocationOf(svc))) {
        if (snapshot.keys.has(key) || recorded.has(key) || !this.inRange(key, text)) continue;
        recorded.add(key);
        writes.push({
          compare: { target: "createRevision", key: enc(key), result: "=", operand: 0 },
          op: {
            op: "put",
            key: enc(key),
            value: enc(JSON.stringify(allocationRecord(svc, text))),
          },
          kind: "recorded",
        });
      }
    const report: RepairReport = { released: 0, recorded: 0 };
    for (const w of writes.slice(0, MAX_REPAIRS_PER_ROUND))
      if (await this.store.guarded([w.compare], [w.op])) report[w.kind]++;
    return report;
  }

  /** Out-of-range values get no key: the repair controller warns about them instead. */
  private inRange(key: string, text: string): boolean {
    if (key.startsWith(SERVICE_IP_KEYS_PREFIX)) {
      const ip = ipv4ToNumber(text);
      return ip !== null && inRange(this.ranges.ips, ip);
    }
    return inRange(this.ranges.nodePorts, Number(text));
  }

  /**
   * The keys and Services at one revision: from the watch cache (no store round) unless
   * `fresh`, else read linearizably from the store. Both must be at one revision, or a key
   * written with its Service after the Services were read would look leaked.
   */
  private async snapshot(fresh: boolean, selfUid: string): Promise<Snapshot> {
    const prefixes = [SERVICE_IP_KEYS_PREFIX, NODE_PORT_KEYS_PREFIX, SERVICES_PREFIX];
    let pages = fresh
      ? null
      : await Promise.all(
          prefixes.map((p) => this.store.list(p, { serializable: true, cached: true })),
        );
    if (pages === null || new Set(pages.map((p) => p.revision)).size !== 1) {
      const first = await this.store.list(prefixes[0] as string, { serializable: false });
      const rest = await Promise.all(
        prefixes
          .slice(1)
          .map((p) => this.store.list(p, { serializable: false, revision: first.revision })),
      );
      pages = [first, ...rest];
    }
    const [ipKeys, portKeys, services] = pages.map((p) => p.items) as [
      JsonObject[],
      JsonObject[],
      JsonObject[],
    ];
    const live = new Set(services.map((s) => asString(asObject(s.metadata).uid)));
    const taken = { ips: new Set<number>(), nodePorts: new Set<number>() };
    const keys: Snapshot["keys"] = new Map();
    for (const svc of services) {
      if (asString(asObject(svc.metadata).uid) === selfUid) continue;
      const a = allocationOf(svc);
      for (const ip of a.ips) taken.ips.add(ip);
      for (const port of a.nodePorts) taken.nodePorts.add(port);
    }
    const record = (key: string, item: JsonObject, add: () => void) => {
      const ownerUid = ownerUidOf(item);
      const leaked = !live.has(ownerUid);
      keys.set(key, { ownerUid, modRevision: modRevisionOf(item), leaked });
      if (!leaked && ownerUid !== selfUid) add();
    };
    for (const item of ipKeys) {
      const ip = ipv4ToNumber(recordedValue(item));
      if (ip !== null) record(serviceIPKey(ip), item, () => taken.ips.add(ip));
    }
    for (const item of portKeys) {
      const port = Number(recordedValue(item));
      if (Number.isInteger(port)) record(nodePortKey(port), item, () => taken.nodePorts.add(port));
    }
    return { services, taken, keys };
  }
}

/** The value an allocation key stands for, from the record's own copy. */
function recordedValue(record: JsonObject): string {
  return asString(record.value);
}

/** Each value's key and its text. */
function keysOf(a: ServiceAllocation): [string, string][] {
  return [
    ...a.ips.map((ip): [string, string] => [serviceIPKey(ip), numberToIpv4(ip)]),
    ...a.nodePorts.map((port): [string, string] => [nodePortKey(port), String(port)]),
  ];
}

/** An update that changes which values the Service holds (a type change, a new NodePort). */
function holdsOtherValues(next: JsonObject, old: JsonObject | null): boolean {
  const a = allocationOf(next);
  const b = old === null ? NO_ALLOCATION : allocationOf(old);
  const same = (x: number[], y: number[]) => x.length === y.length && x.every((v) => y.includes(v));
  return !same(a.ips, b.ips) || !same(a.nodePorts, b.nodePorts);
}
