/**
 * Running one probe (Kubernetes' prober): exec through the runtime, httpGet (2xx/3xx is
 * success), tcpSocket (a connection opens). The host defaults to the pod IP; a named port is
 * looked up in the container's ports. Pure I/O, no timing policy: the prober schedules.
 */
import { request } from "node:http";
import { connect } from "node:net";
import { asObject, type JsonObject } from "../api/json.ts";
import type { Clock } from "../system/clock.ts";
import type { ContainerHandle, ContainerRuntime } from "./runtime.ts";

export interface ProbeTarget {
  handle: ContainerHandle;
  podIP: string;
  /** The container's ports by name, for `port: "http"`. */
  namedPorts: Record<string, number>;
}

export interface ProbeRunner {
  /** true = success. Never rejects. */
  run(probe: JsonObject, target: ProbeTarget, timeoutMs: number): Promise<boolean>;
}

export function probeTimeoutMs(probe: JsonObject, defaultMs: number): number {
  const seconds = Number(probe.timeoutSeconds);
  return seconds > 0 ? seconds * 1000 : defaultMs;
}

function portOf(value: unknown, target: ProbeTarget): number {
  if (typeof value === "number") return value;
  const n = Number(value);
  if (Number.isInteger(n) && n > 0) return n;
  return target.namedPorts[String(value)] ?? 0;
}

export class NetworkProbeRunner implements ProbeRunner {
  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly clock: Clock,
  ) {}

  run(probe: JsonObject, target: ProbeTarget, timeoutMs: number): Promise<boolean> {
    if (probe.exec) {
      const command = (asObject(probe.exec).command ?? []) as string[];
      return this.runtime.exec(target.handle, command.map(String), timeoutMs).then(
        (code) => code === 0,
        () => false,
      );
    }
    if (probe.httpGet) return this.httpGet(asObject(probe.httpGet), target, timeoutMs);
    if (probe.tcpSocket) return this.tcpSocket(asObject(probe.tcpSocket), target, timeoutMs);
    return Promise.resolve(true);
  }

  private httpGet(spec: JsonObject, target: ProbeTarget, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (ok: boolean) => {
        if (done) return;
        done = true;
        this.clock.clearTimeout(timer);
        req.destroy();
        resolve(ok);
      };
      const headers: Record<string, string> = {};
      for (const h of (spec.httpHeaders ?? []) as JsonObject[])
        headers[String(h.name)] = String(h.value);
      const req = request(
        {
          host: typeof spec.host === "string" && spec.host ? spec.host : target.podIP,
          port: portOf(spec.port, target),
          path: typeof spec.path === "string" ? spec.path : "/",
          method: "GET",
          headers: { "user-agent": "kube-probe/bosun", ...headers },
        },
        (res) => {
          const code = res.statusCode ?? 0;
          res.resume();
          finish(code >= 200 && code < 400);
        },
      );
      req.on("error", () => finish(false));
      const timer = this.clock.setTimeout(() => finish(false), timeoutMs);
      req.end();
    });
  }

  private tcpSocket(spec: JsonObject, target: ProbeTarget, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = connect({
        host: typeof spec.host === "string" && spec.host ? spec.host : target.podIP,
        port: portOf(spec.port, target),
      });
      const finish = (ok: boolean) => {
        this.clock.clearTimeout(timer);
        socket.destroy();
        resolve(ok);
      };
      socket.once("connect", () => finish(true));
      socket.once("error", () => finish(false));
      const timer = this.clock.setTimeout(() => finish(false), timeoutMs);
    });
  }
}
