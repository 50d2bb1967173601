// bosun/echo: an HTTP server on $POD_IP:$PORT (PORT, else the first containerPort, else 8080)
// answering every request with its pod name. Logs one line per request to stdout.
import { createServer } from "node:http";

const host = process.env.POD_IP || "127.0.0.1";
const port = Number(process.env.PORT || process.env.BOSUN_CONTAINER_PORT || 8080);
const name = process.env.POD_NAME || "unknown";
const text = process.env.ECHO_TEXT || name;

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
