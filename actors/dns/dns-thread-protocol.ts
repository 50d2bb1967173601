/**
 * The messages between a server node's main thread and its DNS thread (dns-thread.ts starts
 * it, dns-worker.ts is its entry). The main thread owns the informers and hands every change
 * over; the DNS thread owns the sockets, the zone it answers from and its answer cache, and
 * hands its query tally back for `/metrics`.
 */
import type { JsonObject } from "../api/json.ts";
import type { TallySnapshot } from "./dns-metrics.ts";
import type { DnsLimits } from "./limits.ts";
import type { ZoneConfig } from "./resolve.ts";

/** What the DNS thread is started with (`workerData`). */
export interface DnsThreadData {
  host: string;
  zoneConfig: ZoneConfig;
  limits: DnsLimits;
  upstreams: string[];
  /** The node's log level: the thread logs (pino JSON) through the process's stdout. */
  logLevel: string;
  /** How often the thread hands its query tally over (ms). */
  tallyIntervalMs: number;
}

/** One informer event, named after the ZoneRecords method that applies it. */
export type ZoneChangeOp =
  | "recordService"
  | "forgetService"
  | "recordSlice"
  | "forgetSlice"
  | "recordPod"
  | "forgetPod";

export type ToDnsThread =
  | { kind: "zone"; op: ZoneChangeOp; object: JsonObject }
  | { kind: "listen"; port: number }
  | { kind: "stop" };

export type FromDnsThread =
  /** The ports bound (UDP and TCP differ only after a bind of port 0, in tests). */
  | { kind: "listening"; udpPort: number; tcpPort: number }
  /** `code`: the bind error's errno name (EACCES, EADDRINUSE, …), or null. */
  | { kind: "listen-failed"; code: string | null; message: string }
  | { kind: "tally"; tally: TallySnapshot };
