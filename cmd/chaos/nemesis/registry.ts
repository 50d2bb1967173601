/**
 * Every nemesis by name (kube-scheduler's plugin registry): the scenario catalog names them,
 * the CLI validates against this list.
 */
import { clockSkewNemesis } from "./clock-faults.ts";
import { slowDiskNemesis } from "./disk-faults.ts";
import { iptablesIsolateNemesis } from "./iptables-partition.ts";
import type { NemesisFactory } from "./nemesis.ts";
import {
  bridgeNemesis,
  delayNemesis,
  duplicateNemesis,
  isolateNemesis,
  lossNemesis,
  majorityMinorityNemesis,
  oneWayNemesis,
} from "./network-faults.ts";
import { killNemesis, pauseNemesis } from "./process-faults.ts";

export const NEMESES: Readonly<Record<string, NemesisFactory>> = {
  kill: killNemesis,
  pause: pauseNemesis,
  isolate: isolateNemesis,
  "isolate-iptables": iptablesIsolateNemesis,
  "one-way": oneWayNemesis,
  "partition-majority-minority": () => majorityMinorityNemesis(),
  bridge: () => bridgeNemesis(),
  loss: () => lossNemesis(),
  delay: () => delayNemesis(),
  duplicate: () => duplicateNemesis(),
  "slow-disk": slowDiskNemesis,
  "clock-skew": (target) => clockSkewNemesis(target),
};

export function nemesisFactory(name: string): NemesisFactory {
  const factory = NEMESES[name];
  if (factory === undefined) {
    throw new Error(`no nemesis '${name}' (known: ${Object.keys(NEMESES).join(", ")})`);
  }
  return factory;
}
