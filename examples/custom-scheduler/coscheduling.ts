/**
 * Coscheduling: a gang of pods is placed all together or not at all (the idea of
 * kubernetes-sigs/scheduler-plugins' `coscheduling`, reduced to its Permit). Pods of one gang
 * carry the label `bosun.dev/pod-group: NAME` and say how many make a gang with
 * `bosun.dev/pod-group-min-available: "N"`.
 *
 * - Permit: each member, once assumed on a node, waits until N members of its gang are assumed
 *   or bound; the one that completes the gang allows every waiting member at once.
 * - Unreserve: when a member gives up (its wait timed out, or its binding failed), the waiting
 *   members of its gang are rejected with it, so that no partial gang holds nodes.
 * Args: `permitWaitingTimeSeconds` (default 10): how long a member waits for the others.
 *
 * An out-of-tree plugin: `bosun scheduler --config scheduler-config.yaml --plugin coscheduling.ts`
 * imports this module and registers every entry of its `plugins` export by name.
 */
import { type FieldError, invalid } from "../../actors/api/field-error.ts";
import type { JsonObject } from "../../actors/api/json.ts";
import type {
  FrameworkHandle,
  PermitDecision,
  PermitPlugin,
  ReservePlugin,
} from "../../actors/scheduler/framework.ts";
import type { PodInfo } from "../../actors/scheduler/node-info.ts";
import type { PluginRegistration } from "../../actors/scheduler/registry.ts";

export const POD_GROUP_LABEL = "bosun.dev/pod-group";
export const MIN_AVAILABLE_LABEL = "bosun.dev/pod-group-min-available";
export const DEFAULT_PERMIT_WAITING_SECONDS = 10;
/** A wait longer than this is a typo, not a gang. */
export const MAX_PERMIT_WAITING_SECONDS = 600;
export const NAME = "Coscheduling";

interface Gang {
  name: string;
  namespace: string;
  minAvailable: number;
}

function gangOf(pod: PodInfo): Gang | null {
  const name = pod.labels[POD_GROUP_LABEL];
  const min = Number(pod.labels[MIN_AVAILABLE_LABEL] ?? "1");
  if (name === undefined || !Number.isInteger(min) || min < 1) return null;
  return { name, namespace: pod.namespace, minAvailable: min };
}

function inGang(gang: Gang, pod: PodInfo): boolean {
  return pod.namespace === gang.namespace && pod.labels[POD_GROUP_LABEL] === gang.name;
}

function waitingSecondsOf(args: JsonObject, path: string, errors: FieldError[]): number {
  for (const k of Object.keys(args))
    if (!["apiVersion", "kind", "permitWaitingTimeSeconds"].includes(k))
      errors.push(invalid(`${path}.${k}`, args[k], "unknown field"));
  const v = args.permitWaitingTimeSeconds ?? DEFAULT_PERMIT_WAITING_SECONDS;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > MAX_PERMIT_WAITING_SECONDS) {
    errors.push(
      invalid(
        `${path}.permitWaitingTimeSeconds`,
        v,
        `must be an integer in [1, ${MAX_PERMIT_WAITING_SECONDS}]`,
      ),
    );
    return DEFAULT_PERMIT_WAITING_SECONDS;
  }
  return v;
}

export function coscheduling(
  handle: FrameworkHandle,
  waitingSeconds: number,
): PermitPlugin & ReservePlugin {
  /** Members assumed or bound (the scheduler's cache counts both), this pod included. */
  const placedMembers = (gang: Gang): number => {
    let n = 0;
    for (const { info } of handle.cache.placedPods()) if (inGang(gang, info)) n++;
    return n;
  };
  return {
    name: NAME,
    permit(pod): PermitDecision {
      const gang = gangOf(pod);
      if (gang === null || gang.minAvailable <= 1) return { decision: "allow" };
      if (placedMembers(gang) < gang.minAvailable)
        return { decision: "wait", timeoutMs: waitingSeconds * 1000 };
      // the gang is complete: everyone waiting for it goes on to bind
      for (const waiting of handle.waitingPods.all())
        if (inGang(gang, waiting.pod)) waiting.allow(NAME);
      return { decision: "allow" };
    },
    reserve: () => null,
    unreserve(pod) {
      const gang = gangOf(pod);
      if (gang === null) return;
      for (const waiting of handle.waitingPods.all())
        if (waiting.pod.key !== pod.key && inGang(gang, waiting.pod))
          waiting.reject(NAME, `a member of pod group ${gang.name} gave up`);
    },
  };
}

export const plugins: PluginRegistration[] = [
  {
    name: NAME,
    extensionPoints: ["permit", "reserve"],
    factory: (args, handle) => coscheduling(handle, waitingSecondsOf(args, "", [])),
    validateArgs: (args, path) => {
      const errors: FieldError[] = [];
      waitingSecondsOf(args, path, errors);
      return errors;
    },
  },
];
