/**
 * The DNS thread's entry (started by dns-thread.ts through dns-worker.mjs): a DnsServer on its
 * own event loop, answering from a ZoneRecords kept by the changes the main thread hands over.
 * The node's main thread runs Raft, the API server and every controller; a DNS server there
 * waits behind all of them (bench:dns measured 1,500 queries/s in a busy node against 43,000 for
 * the same server alone).
 */
import { parentPort, workerData } from "node:worker_threads";
import pino from "pino";
import { SystemClock } from "../system/clock.ts";
import { QueryTally } from "./dns-metrics.ts";
import { DnsServer } from "./dns-server.ts";
import type { DnsThreadData, FromDnsThread, ToDnsThread } from "./dns-thread-protocol.ts";
import { Upstream } from "./upstream.ts";
import { ZoneRecords } from "./zone-records.ts";

const port = parentPort;
if (port === null) throw new Error("dns-worker.ts runs as a worker thread only");
const data = workerData as DnsThreadData;
const clock = new SystemClock();
const zone = new ZoneRecords();
const tally = new QueryTally();
const server = new DnsServer({
  host: data.host,
  zone,
  zoneConfig: data.zoneConfig,
  upstream: new Upstream({
    servers: data.upstreams,
    clock,
    timeoutMs: data.limits.upstreamTimeoutMs,
    maxInFlight: data.limits.maxInFlightUpstream,
    maxReplyBytes: data.limits.maxTcpMessageBytes,
  }),
  limits: data.limits,
  clock,
  logger: pino({ level: data.logLevel }).child({ component: "dns", thread: "dns" }),
  observe: (type, rcode, seconds) => tally.record(type, rcode, seconds),
});

const send = (message: FromDnsThread) => port.postMessage(message);
let tallyTimer = clock.setTimeout(handOverTally, data.tallyIntervalMs);

function handOverTally(): void {
  if (tally.requests.size > 0) send({ kind: "tally", tally: tally.drain() });
  tallyTimer = clock.setTimeout(handOverTally, data.tallyIntervalMs);
}

port.on("message", (message: ToDnsThread) => {
  switch (message.kind) {
    case "zone":
      zone[message.op](message.object);
      return;
    case "listen":
      server.listen(message.port).then(
        () => send({ kind: "listening", udpPort: server.udpPort(), tcpPort: server.tcpPort() }),
        (error: unknown) => {
          const code = (error as { code?: unknown } | null)?.code;
          send({
            kind: "listen-failed",
            code: typeof code === "string" ? code : null,
            message: String(error),
          });
        },
      );
      return;
    case "stop":
      clock.clearTimeout(tallyTimer);
      server.stop();
      if (tally.requests.size > 0) send({ kind: "tally", tally: tally.drain() });
      port.close();
      return;
  }
});
