/**
 * The Kubernetes API of a local cluster over HTTPS, as client-go would use it (the kubeconfig's
 * CA and bearer token, keep-alive connection pools, newline-delimited JSON watches): for the
 * benchmarks, which measure what a real client sees.
 */
import { readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { join } from "node:path";
import { parse } from "yaml";

/** An object as the API returns it: only its name is assumed. */
export interface ApiObject {
  metadata: { name: string; [field: string]: unknown };
  [field: string]: unknown;
}

/** One line of a watch stream. */
export interface WatchEvent {
  type: string;
  object: ApiObject;
}

/** One API server endpoint with a keep-alive connection pool. */
export interface Endpoint {
  url: URL;
  agent: Agent;
}

export interface Credentials {
  /** A bearer token, or "" when a client certificate authenticates instead. */
  token: string;
  ca: string;
  servers: string[];
  /** A client certificate and key (PEM), for a user `bosun kubeconfig --user` would issue. */
  clientCert?: { cert: string; key: string };
}

export function readCredentials(runDir: string): Credentials {
  const doc = parse(readFileSync(join(runDir, "kubeconfig"), "utf8")) as {
    clusters: { cluster: { server: string; "certificate-authority-data": string } }[];
    users: { user: { token: string } }[];
  };
  const first = doc.clusters[0]?.cluster;
  return {
    token: doc.users[0]?.user.token ?? "",
    ca: Buffer.from(first?.["certificate-authority-data"] ?? "", "base64").toString("utf8"),
    servers: doc.clusters.map((c) => c.cluster.server),
  };
}

export class HttpsApi {
  readonly endpoints: Endpoint[];
  constructor(
    private readonly creds: Credentials,
    maxSockets: number,
  ) {
    this.endpoints = creds.servers.map((s) => ({
      url: new URL(s),
      agent: new Agent({ ca: creds.ca, keepAlive: true, maxSockets, ...creds.clientCert }),
    }));
  }

  /** The Authorization header, unless a client certificate speaks for us. */
  authorization(): Record<string, string> {
    return this.creds.token === "" ? {} : { authorization: `Bearer ${this.creds.token}` };
  }

  endpoint(i: number): Endpoint {
    return this.endpoints[i % this.endpoints.length] as Endpoint;
  }

  /** One request; resolves with status and parsed body. */
  call(
    ep: Endpoint,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ code: number; body: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, ep.url),
        {
          method,
          agent: ep.agent,
          headers: {
            ...this.authorization(),
            accept: "application/json",
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (d: Buffer) => chunks.push(d));
          res.on("end", () => {
            try {
              resolve({
                code: res.statusCode ?? 0,
                body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
              });
            } catch (error) {
              reject(error);
            }
          });
        },
      );
      req.on("error", reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }

  /**
   * A watch stream; `onEvent` per line, `onEnd` when the server ends it (not after `stop`).
   * Returns a stopper and a promise of the stream start.
   */
  watch(
    ep: Endpoint,
    agent: Agent,
    path: string,
    onEvent: (e: WatchEvent) => void,
    onEnd?: () => void,
  ): { ready: Promise<void>; stop: () => void } {
    let stopped = false;
    let stop = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      const req = request(
        new URL(path, ep.url),
        { agent, headers: this.authorization() },
        (res) => {
          if (res.statusCode !== 200) return reject(new Error(`watch: ${res.statusCode}`));
          resolve();
          let buffer = "";
          res.on("data", (d: Buffer) => {
            buffer += d.toString("utf8");
            for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
              const line = buffer.slice(0, nl);
              buffer = buffer.slice(nl + 1);
              if (line.trim()) onEvent(JSON.parse(line));
            }
          });
          res.on("error", () => {});
          res.on("close", () => {
            if (!stopped) onEnd?.();
          });
        },
      );
      req.on("error", () => {});
      req.end();
      stop = () => {
        stopped = true;
        req.destroy();
      };
    });
    return { ready, stop: () => stop() };
  }

  close(): void {
    for (const ep of this.endpoints) ep.agent.destroy();
  }
}
