// agnhost (registry.k8s.io/e2e-test-images/agnhost): Kubernetes' test image, the subcommands
// the docs and e2e tests use, serving on $POD_IP (a pod's own address here):
//   netexec [--http-port=8080]      /, /hostname, /echo?msg=, /clientip, /healthz, /exit?code=, /shell?cmd=
//   serve-hostname [--port=9376]    every request answers the pod's hostname
//   liveness                        /healthz: 200 for the first 10 s, then 500 (port 8080)
//   pause                           sleeps until killed (the image's CMD)
import { execFile } from "node:child_process";
import { createServer } from "node:http";

const [subcommand = "pause", ...rest] = process.argv.slice(2);
const flags = Object.fromEntries(
  rest
    .filter((a) => a.startsWith("--"))
    .map((a) => {
      const [k, v = "true"] = a.slice(2).split("=");
      return [k, v];
    }),
);
const host = process.env.POD_IP || "127.0.0.1";
const hostname = process.env.HOSTNAME || process.env.POD_NAME || "localhost";
const startedMs = Date.now();

function serve(port, handler) {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://agnhost");
    handler(url, req, res);
  });
  server.listen(port, host, () => console.log(`${subcommand} serving on ${host}:${port}`));
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
}

const text = (res, code, body) => {
  res.writeHead(code, { "content-type": "text/plain" });
  res.end(body);
};

switch (subcommand) {
  case "netexec":
    serve(Number(flags["http-port"] ?? 8080), (url, req, res) => {
      switch (url.pathname) {
        case "/":
          return text(res, 200, `NOW: ${new Date().toISOString()}`);
        case "/hostname":
          return text(res, 200, hostname);
        case "/echo":
          return text(res, 200, url.searchParams.get("msg") ?? "");
        case "/clientip":
          return text(res, 200, `${req.socket.remoteAddress}:${req.socket.remotePort}`);
        case "/healthz":
          return text(res, 200, "ok");
        case "/exit": {
          const code = Number(url.searchParams.get("code") ?? 0);
          text(res, 200, "");
          return setTimeout(() => process.exit(code), 10);
        }
        case "/shell":
          return execFile("/bin/sh", ["-c", url.searchParams.get("cmd") ?? ""], (error, out, err) =>
            text(res, 200, JSON.stringify({ output: out, error: error ? String(err) : "" })),
          );
        default:
          return text(res, 404, "404 page not found\n");
      }
    });
    break;
  case "serve-hostname":
    serve(Number(flags.port ?? 9376), (_url, _req, res) => text(res, 200, hostname));
    break;
  case "liveness":
    serve(8080, (url, _req, res) => {
      if (url.pathname !== "/healthz") return text(res, 404, "404 page not found\n");
      const seconds = (Date.now() - startedMs) / 1000;
      if (seconds > 10) return text(res, 500, `error: ${seconds.toFixed(3)}`);
      return text(res, 200, "ok");
    });
    break;
  case "pause":
    console.log("Paused");
    setInterval(() => {}, 1 << 30);
    process.on("SIGTERM", () => process.exit(0));
    process.on("SIGINT", () => process.exit(0));
    break;
  default:
    console.error(
      `agnhost: unknown subcommand "${subcommand}" (bosun has netexec, serve-hostname, liveness, pause)`,
    );
    process.exit(1);
}
