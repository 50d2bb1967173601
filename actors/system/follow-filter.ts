import type { InspectionRecord } from "./inspection-ring.ts";
import type { FollowFilter } from "./node-actor.ts";

/**
 * States remembered per follower in `changesOnly` mode, to tell a change from a repeat; past
 * this the memory starts over (a few repeats get through, nothing is missed).
 */
export const MAX_REMEMBERED_STATES = 65_536;

/** Whether `address` is `wanted` itself or one of the actors it invoked (`n1/raft.child`). */
function isAddressOrChild(address: string, wanted: string): boolean {
  return address === wanted || (address.startsWith(wanted) && address[wanted.length] === ".");
}

/**
 * The predicate a follow filter (node-actor.ts) stands for. In `changesOnly` mode only actor
 * creations and snapshots whose state or status differs from the last one passed are kept: a
 * Raft leader's heartbeats are hundreds of snapshots a second, all alike.
 */
export function followMatcher(filter: FollowFilter): (record: InspectionRecord) => boolean {
  const addresses = [
    ...(filter.address !== undefined ? [filter.address] : []),
    ...(filter.addresses ?? []),
  ];
  const byAddress =
    addresses.length === 0
      ? () => true
      : (record: InspectionRecord) => addresses.some((a) => isAddressOrChild(record.address, a));
  if (!filter.changesOnly) return byAddress;
  const last = new Map<string, string>();
  return (record) => {
    if (!byAddress(record)) return false;
    if (record.kind === "@xstate.actor") return true;
    if (record.kind !== "@xstate.snapshot") return false;
    const key = `${record.status}:${JSON.stringify(record.state)}`;
    if (last.get(record.address) === key) return false;
    if (last.size >= MAX_REMEMBERED_STATES) last.clear();
    last.set(record.address, key);
    return true;
  };
}
