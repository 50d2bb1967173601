// bosun/echo: an HTTP server on $POD_IP answering every request with its pod name (or a text).
// Port: $PORT, else `-listen=`, else the first containerPort, else the image's default ($ECHO_DEFAULT_PORT: 80
// for nginx and httpd, 5678 for http-echo), else 8080. hashicorp/http-echo's flags are read:
// `-text=hello` answers "hello", `-listen=:5678` picks the port. Logs one line per request.
import { createServer } from "node:http";

const flag = (name) => {
  const arg = process.argv
    .slice(2)
    .find((a) => a.startsWith(`-${name}=`) || a.startsWith(`--${name}=`));
  return arg === undefined ? undefined : arg.slice(arg.indexOf("=") + 1);
};
const listen = flag("listen");
const host = process.env.POD_IP || "127.0.0.1";
const port = Number(
  process.env.PORT ||
    (listen ? listen.slice(listen.lastIndexOf(":") + 1) : "") ||
    process.env.BOSUN_CONTAINER_PORT ||
    process.env.ECHO_DEFAULT_PORT ||
    8080,
);
const name = process.env.POD_NAME || "unknown";
const text = flag("text") ?? process.env.ECHO_TEXT ?? name;

const server = createServer((req, res) => {
  console.log(`${req.method} ${req.url} from ${req.socket.remoteAddress}`);
  if (req.url === "/healthz" && process.env.ECHO_UNHEALTHY) {
    res.writeHead(500, { "content-type": "text/plain" });
    res.end("unhealthy\n");
    return;
  }
  res.writeHead(200, { "content-type": "text/plain" });
  res.end(`${text}\n`);
});
server.listen(port, host, () => console.log(`echo ${name} listening on ${host}:${port}`));
process.on("SIGTERM", () => {
  console.log("SIGTERM: shutting down");
  server.close(() => process.exit(0));
});
