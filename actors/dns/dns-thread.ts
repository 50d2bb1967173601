/**
 * The main thread's handle on the DNS thread (dns-worker.ts): it starts the thread, hands it
 * every zone change and each bind, and folds the query tally it hands back into the node's
 * metrics. Changes reach the thread in the order they were made (a worker's message port is
 * ordered), so a bind asked for after the informers synced finds the whole zone there.
 */
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import { asObject, asString, type JsonObject } from "../api/json.ts";
import type { QueryTally } from "./dns-metrics.ts";
import type {
  DnsThreadData,
  FromDnsThread,
  ToDnsThread,
  ZoneChangeOp,
} from "./dns-thread-protocol.ts";

const WORKER_ENTRY = new URL("./dns-worker.mjs", import.meta.url);

/** A bind error from the thread, with the errno name the fallback to 10053 looks at. */
export class DnsBindError extends Error {
  constructor(
    message: string,
    readonly code: string | null,
  ) {
    super(message);
  }
}

export interface BoundPorts {
  udpPort: number;
  tcpPort: number;
}

/** Only what ZoneRecords reads of a Pod crosses over: a Pod object is kilobytes. */
function podEssentials(pod: JsonObject): JsonObject {
  const meta = asObject(pod.metadata);
  return {
    metadata: { namespace: asString(meta.namespace), name: asString(meta.name) },
    status: { podIP: asString(asObject(pod.status).podIP) },
  };
}

export class DnsThread {
  private readonly worker: Worker;
  private binding: { ok: (ports: BoundPorts) => void; fail: (error: Error) => void } | null = null;
  private exited = false;

  constructor(
    data: DnsThreadData,
    private readonly tally: QueryTally,
    private readonly logger: Logger,
  ) {
    this.worker = new Worker(WORKER_ENTRY, { workerData: data });
    this.worker.on("message", (message: FromDnsThread) => this.receive(message));
    this.worker.on("error", (error) => this.logger.error({ error: String(error) }, "dns thread"));
    this.worker.on("exit", (code) => {
      this.exited = true;
      if (code !== 0) this.logger.error({ code }, "dns thread exited");
      this.binding?.fail(new DnsBindError(`dns thread exited (${code})`, null));
      this.binding = null;
    });
  }

  change(op: ZoneChangeOp, object: JsonObject): void {
    const essential = op === "recordPod" || op === "forgetPod" ? podEssentials(object) : object;
    this.post({ kind: "zone", op, object: essential });
  }

  /** Binds UDP and TCP on `port` in the thread; rejects with a DnsBindError. */
  listen(port: number): Promise<BoundPorts> {
    if (this.exited) return Promise.reject(new DnsBindError("dns thread exited", null));
    return new Promise((ok, fail) => {
      this.binding = { ok, fail };
      this.post({ kind: "listen", port });
    });
  }

  /** Closes the sockets and ends the thread (the last tally is handed over first). */
  stop(): void {
    if (this.exited) return;
    this.post({ kind: "stop" });
  }

  private post(message: ToDnsThread): void {
    if (!this.exited) this.worker.postMessage(message);
  }

  private receive(message: FromDnsThread): void {
    switch (message.kind) {
      case "tally":
        this.tally.merge(message.tally);
        return;
      case "listening":
        this.binding?.ok({ udpPort: message.udpPort, tcpPort: message.tcpPort });
        this.binding = null;
        return;
      case "listen-failed":
        this.binding?.fail(new DnsBindError(message.message, message.code));
        this.binding = null;
        return;
    }
  }
}
