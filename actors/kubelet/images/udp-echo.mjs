// bosun/udp-echo: a UDP echo server on $POD_IP:$PORT (PORT, else the first containerPort, else
// 5353): every datagram is sent back as it came. With ECHO_PREFIX set, the answer starts with it
// (`$POD_NAME` when ECHO_PREFIX=pod), so a test can tell the replicas apart. One log line per
// datagram, with the sender's address.
import { createSocket } from "node:dgram";

const host = process.env.POD_IP || "127.0.0.1";
const port = Number(process.env.PORT || process.env.BOSUN_CONTAINER_PORT || 5353);
const name = process.env.POD_NAME || "unknown";
const prefix = process.env.ECHO_PREFIX === "pod" ? `${name} ` : (process.env.ECHO_PREFIX ?? "");

const socket = createSocket("udp4");
socket.on("message", (message, from) => {
  console.log(`datagram of ${message.length} bytes from ${from.address}:${from.port}`);
  socket.send(Buffer.concat([Buffer.from(prefix), message]), from.port, from.address);
});
socket.bind(port, host, () => console.log(`udp-echo ${name} listening on ${host}:${port}`));
process.on("SIGTERM", () => {
  console.log("SIGTERM: shutting down");
  socket.close(() => process.exit(0));
});
