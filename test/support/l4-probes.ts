/** What tests ask of an address over the network: one HTTP GET, or whether a connect is refused. */
import { request } from "node:http";
import { connect } from "node:net";

/** One GET on a new connection (no agent): the body trimmed, or `error:CODE`. */
export function httpGet(host: string, port: number, timeoutMs = 3_000): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: "/", agent: false, timeout: timeoutMs }, (res) => {
      let body = "";
      res.on("data", (d) => {
        body += d;
      });
      res.on("end", () => resolve(body.trim()));
      res.on("error", (e: NodeJS.ErrnoException) => resolve(`error:${e.code}`));
    });
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
    req.on("error", (e: NodeJS.ErrnoException) => resolve(`error:${e.code}`));
    req.end();
  });
}

/** Whether a TCP connect to `host:port` is refused (nothing listens there). */
export function connectRefused(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code === "ECONNREFUSED"));
  });
}
